"""The package ships what it tests: the wheel built from this tree holds every module, template
and schema, and installed into a clean virtual environment outside the checkout its rolloutctl
runs the main commands on the worked example."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parent.parent
NOW = "2026-11-24T12:00:00Z"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # Built from a copy: setuptools writes build/ inside the source tree, and two test workers
    # building from the checkout at once trip over each other's files.
    source = tmp_path_factory.mktemp("source") / "rolloutctl"
    shutil.copytree(TOP, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".demo", "build", "*.egg-info", "__pycache__", ".pytest_cache"))
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(source)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    [built] = out.glob("rolloutctl-*.whl")
    return built


def test_the_wheel_holds_every_module_template_and_schema(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {str(p.relative_to(TOP)) for p in (TOP / "controller").rglob("*")
                if p.suffix in (".py", ".j2") and "__pycache__" not in p.parts}
    expected |= {f"controller/schemas/{p.name}" for p in (TOP / "schemas").glob("*.schema.json")}
    expected |= {f"controller/workflows/{p.name}" for p in (TOP / ".github/workflows").glob("*.yml")}
    assert expected - names == set()


def test_the_installed_wheel_runs_every_main_command(wheel, example_repo, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    done = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", str(wheel)], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    # Outside the checkout, with nothing of it on the path: only the installed package can answer.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '')}"
    work = tmp_path / "elsewhere"
    work.mkdir()

    def run(*args: str) -> subprocess.CompletedProcess:
        result = subprocess.run(["rolloutctl", "--repo", str(example_repo), *args], cwd=work, env=env,
                                capture_output=True, text=True)
        assert "Traceback" not in result.stderr, result.stderr
        return result

    version = subprocess.run(["rolloutctl", "--version"], cwd=work, env=env, capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("rolloutctl ")
    assert run("validate", "--now", NOW).returncode == 0
    status = run("status", "--now", NOW)
    assert "argus/1.7.4: rolling-out" in status.stdout
    publish, state = work / "public", work / "state"
    plan = run("plan", "--now", NOW, "--publish-dir", str(publish), "--state-dir", str(state))
    assert plan.returncode == 0 and "publish production" in plan.stdout
    first = run("reconcile", "--now", NOW, "--publish-dir", str(publish), "--state-dir", str(state))
    assert first.returncode == 0, first.stderr
    assert (publish / "production" / "umd5-el9.repo").is_file()
    assert (publish / "site" / "index.html").is_file()
    again = run("reconcile", "--now", NOW, "--publish-dir", str(publish), "--state-dir", str(state))
    assert again.returncode == 0 and "nothing to do" in again.stdout
    made = run("init", str(work / "fed"), "--name", "Fed", "--country", "NL")
    assert made.returncode == 0 and (work / "fed/.github/workflows/validate.yml").is_file()
    assert (work / "fed/schemas/release.schema.json").is_file()
