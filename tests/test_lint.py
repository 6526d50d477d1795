"""The linter runs as a test, so style problems fail the suite like any other."""

import shutil
import subprocess
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    done = subprocess.run([ruff, "check", "controller", "tests", "scripts", "bench"], cwd=TOP,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def _imports(text: str, module: str) -> bool:
    return f"import {module}" in text or f"from {module} " in text or f"from {module}." in text


def test_only_the_adapters_import_their_libraries():
    """Each outside library has one adapter module that imports it."""
    owners = {"pygit2": {"controller/sources/git.py"},
              "subprocess": {"controller/sources/gpg.py", "controller/publish/signing.py",
                             "controller/sources/clients.py"},
              "urllib.request": {"controller/sources/fetch.py"},
              "jinja2": {"controller/notify/render.py"},
              "createrepo_c": {"controller/publish/yum.py"},
              "debian": {"controller/publish/debfile.py"}, "zstandard": {"controller/publish/debfile.py"},
              "holidays": {"controller/core/workdays.py"},
              "jsonschema_rs": {"controller/core/schemacheck.py"},
              "smtplib": {"controller/notify/mail.py"},
              "cryptography": {"controller/publish/signing.py"},
              "boto3": {"controller/publish/s3.py"}, "botocore": {"controller/publish/s3.py"},
              "github": {"controller/sources/github.py"}, "rich": {"controller/progress.py"}}
    for path in (TOP / "controller").rglob("*.py"):
        rel = str(path.relative_to(TOP))
        for module, allowed in owners.items():
            assert not _imports(path.read_text(), module) or rel in allowed, f"{rel} imports {module}"


def test_the_core_touches_no_disk_clock_or_network():
    """Deciding is pure: the core modules import nothing that reaches outside the process."""
    core = sorted((TOP / "controller" / "core").glob("*.py"))
    assert len(core) > 10
    for path in core:
        text = path.read_text()
        rel = path.relative_to(TOP)
        for module in ("os", "subprocess", "socket", "urllib.request", "pygit2", "time", "shutil", "tempfile",
                       "jinja2", "smtplib", "controller.publish", "controller.sources", "controller.notify",
                       "controller.apply"):
            assert not _imports(text, module), f"{rel} imports {module}"
        assert "datetime.now(" not in text, f"{rel} reads the clock"
