"""The files GitHub reads: workflows valid against the workflow schema, and CODEOWNERS from roles."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from controller import app
from controller.core.codeowners import codeowners

TOP = Path(__file__).resolve().parent.parent


def test_every_workflow_is_valid_against_the_github_workflow_schema():
    tool = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    workflows = sorted(str(p) for p in (TOP / ".github/workflows").glob("*.yml"))
    assert len(workflows) >= 2
    done = subprocess.run([tool, "--builtin-schema", "vendor.github-workflows", *workflows],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_reconcile_workflow_never_overlaps_and_runs_on_a_schedule():
    import yaml
    workflow = yaml.safe_load((TOP / ".github/workflows/reconcile.yml").read_text())
    assert workflow["concurrency"] == {"group": "reconcile", "cancel-in-progress": False}
    assert workflow[True]["schedule"] and workflow[True]["push"]["branches"] == ["main"]  # YAML 1.1: on -> True


def test_codeowners_follows_the_roles(example_repo):
    text = codeowners(app.read_world(str(example_repo), "HEAD")[0])
    lines = text.splitlines()
    assert "/releases/argus/*/release.yaml @aferri" in lines
    assert "/releases/*/*/verification.yaml @icarvalho" in lines
    assert "/releases/*/*/reports/CESGA.yaml @cfernandez" in lines  # Esteban has no GitHub login
    assert "/releases/*/*/decision.yaml @mduarte @tlind" in lines
