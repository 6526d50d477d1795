"""report-template: a pre-filled report that validates as soon as its blanks are filled."""

from __future__ import annotations

import subprocess
import sys

from controller import app
from controller.core.loading import parse_file
from controller.core.report_template import report_template


def filled(text: str) -> bytes:
    return (text.replace("result: FILL-IN", "result: success").replace("hosts: [FILL-IN]", "hosts: [ce01.example.org]")
            .replace("load: FILL-IN", "load: production").replace("effort_hours: FILL-IN", "effort_hours: 2")).encode()


def test_the_template_names_the_release_checksums_and_validates_once_filled(example_repo):
    world, _ = app.read_world(str(example_repo), "HEAD")
    text = report_template(world, "arc-ce/6.19.0", "NDGF-T1")
    release = world.releases["arc-ce/6.19.0"].release
    assert all(p.sha256 in text for p in release.packages)
    path = "releases/arc-ce/6.19.0/reports/NDGF-T1.yaml"
    unfilled, problems = parse_file(path, text.encode(), "report")
    assert unfilled is None and problems  # the blanks must be filled
    parsed, problems = parse_file(path, filled(text), "report")
    assert problems == [] and parsed.doc.data["tested"]["version"] == "6.19.0"
    assert parsed.doc.data["environment"]["arch"] == "x86_64"


def test_report_template_from_the_command_line(example_repo):
    done = subprocess.run([sys.executable, "-m", "controller", "--repo", str(example_repo), "report-template",
                           "argus/1.7.4", "--site", "IFCA-LCG2"], capture_output=True, text=True)
    assert done.returncode == 0 and 'site: "IFCA-LCG2"' in done.stdout
    unknown = subprocess.run([sys.executable, "-m", "controller", "--repo", str(example_repo), "report-template",
                              "argus/1.7.4", "--site", "NOWHERE"], capture_output=True, text=True)
    assert unknown.returncode == 2 and "not a registered early adopter" in unknown.stderr
