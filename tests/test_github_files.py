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


def _workflow(name: str) -> dict:
    import yaml
    return yaml.safe_load((TOP / ".github/workflows" / name).read_text())


def test_actionlint_finds_nothing_in_the_workflows():
    """actionlint checks expressions, action inputs and versions (deprecated runtimes included), and
    the shell of every run step through shellcheck."""
    tool = shutil.which("actionlint") or str(Path(sys.executable).parent / "actionlint")
    assert shutil.which("shellcheck"), "shellcheck is missing: make system-deps installs it"
    workflows = sorted(str(p) for p in (TOP / ".github/workflows").glob("*.yml"))
    done = subprocess.run([tool, "-oneline", *workflows], cwd=TOP, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_pull_request_is_validated_with_a_read_only_token():
    workflow = _workflow("validate.yml")
    assert workflow[True] == {"pull_request": {}}  # no paths filter: a required check must always run
    assert workflow["permissions"] == {"contents": "read"}


def test_reports_are_written_by_trusted_code_that_never_checks_out_the_pull_request():
    workflow = _workflow("report.yml")
    assert workflow[True] == {"workflow_run": {"workflows": ["validate"], "types": ["completed"]}}
    steps = workflow["jobs"]["report"]["steps"]
    checkouts = [s for s in steps if s.get("uses", "").startswith("actions/checkout@")]
    assert checkouts and all("ref" not in (s.get("with") or {}) for s in checkouts)  # the default branch
    assert "--head-sha" in steps[-1]["run"]


def test_reconcile_publishes_to_storage_and_lands_acceptances_without_pushing():
    workflow = _workflow("reconcile.yml")
    assert workflow["permissions"] == {"contents": "read"}
    steps = workflow["jobs"]["reconcile"]["steps"]
    text = (TOP / ".github/workflows/reconcile.yml").read_text()
    assert "git push" not in text and "actions/cache" not in text
    reconcile = next(s for s in steps if s.get("name") == "Reconcile")
    assert '--publish-dir "$PUBLISH_TARGET"' in reconcile["run"] and '--base-url "$PUBLIC_URL"' in reconcile["run"]
    assert workflow["jobs"]["reconcile"]["env"]["PUBLIC_URL"] == "${{ vars.PUBLIC_URL }}"
