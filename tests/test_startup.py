"""What a command loads before it answers: the modules a process imported, read from the process
itself. A scheduled reconcile that finds nothing to do, --version and --help load neither the
model's reader (YAML, JSON Schema) nor the planner and its writers."""

from __future__ import annotations

import json
import subprocess
import sys

# Run the command line in a fresh interpreter, then list what it imported.
PROBE = """
import json, sys
from controller.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as stop:  # --version and --help: argparse answers and exits
    code = stop.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""

# Libraries and modules that only reading the repository, planning or publishing need.
HEAVY = {"yaml", "jsonschema", "jinja2", "boto3", "botocore", "createrepo_c", "rich", "holidays", "github",
         "controller.app", "controller.reconcile", "controller.core.loading", "controller.core.assess",
         "controller.publish.site", "controller.publish.yum", "controller.publish.apt"}


def loaded(*args: str) -> tuple[int, str, set[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True)
    assert "Traceback" not in done.stderr, done.stderr
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["code"], done.stdout, set(report["modules"])


def test_version_and_help_load_no_command():
    for args in (["--version"], ["--help"], ["reconcile", "--help"]):
        code, out, modules = loaded(*args)
        assert code == 0 and "rolloutctl" in out
        assert not modules & (HEAVY | {"pygit2", "controller.sources.git"}), args


def test_reconcile_that_stops_at_once_loads_neither_the_reader_nor_the_planner(story, tmp_path):
    from test_reconcile import arc_release

    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    where = ["--repo", str(story.path), "reconcile", "--now", "2026-11-02T10:00:00Z", "--publish-dir",
             str(tmp_path / "public"), "--state-dir", str(tmp_path / "state"), "--self-check", "off", "-q"]
    code, out, modules = loaded(*where)
    assert code == 0 and "published unverified" in out and HEAVY & modules  # the first run plans and publishes

    code, out, modules = loaded(*where)  # nothing committed since
    assert code == 0 and out.startswith("reconcile: nothing can have changed since the last run")
    assert not HEAVY & modules, HEAVY & modules

    story.commit("lars", "2026-11-02T09:30:00Z", {"README.md": "what this repository is\n"}, "a README")
    code, out, modules = loaded(*where, "--format", "json")  # a commit the model does not read
    assert code == 0 and json.loads(out)["changed"] is False and json.loads(out)["commit"] is None
    assert not HEAVY & modules, HEAVY & modules


def test_status_loads_the_reader_but_not_the_planner_or_the_writers(story, tmp_path):
    from conftest import manifest

    story.commit("andrea", "2026-11-02T09:00:00Z", {"releases/argus/1.8.0/release.yaml": manifest()})
    code, out, modules = loaded("--repo", str(story.path), "status", "--now", "2026-11-03T12:00:00Z",
                                "--publish-dir", str(tmp_path / "public"))
    assert code == 0 and "argus/1.8.0" in out
    assert "controller.app" in modules
    # Reading the recorded installability results loads none of the checking (signing, clients).
    assert not modules & {"jinja2", "boto3", "createrepo_c", "cryptography", "controller.reconcile",
                          "controller.publish.site", "controller.publish.signing"}
