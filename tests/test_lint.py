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


def test_only_the_adapters_import_their_libraries():
    """pygit2 only in sources/git.py; subprocess only in adapters; the core imports neither."""
    allowed = {"pygit2": {"controller/sources/git.py"},
               "subprocess": {"controller/sources/gpg.py"},
               "github": set(), "smtplib": set(), "createrepo_c": set()}
    for path in (TOP / "controller").rglob("*.py"):
        text = path.read_text()
        rel = str(path.relative_to(TOP))
        for module, owners in allowed.items():
            imports = f"import {module}" in text or f"from {module} " in text or f"from {module}." in text
            assert not imports or rel in owners, f"{rel} imports {module}"
