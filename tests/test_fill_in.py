"""FILL-IN marks left anywhere are refused: validate reports each with its line, and the file does
not count (a report with a blank is no report)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import TOP, manifest, verification

from controller import app, cli
from controller.core.model import State
from controller.core.report_template import report_template

ARGUS = "releases/argus/1.7.4"
NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
REPORT = f"{ARGUS}/reports/IFCA-LCG2.yaml"


def _rolling_out(story) -> None:
    files = {f"{ARGUS}/release.yaml": (TOP / ARGUS / "release.yaml").read_bytes()}
    files.update({f"{ARGUS}/packages/{p.name}": p.read_bytes() for p in (TOP / ARGUS / "packages").iterdir()})
    story.commit("andrea", "2026-11-16T09:00:00Z", files)
    story.commit("ines", "2026-11-17T09:00:00Z", {f"{ARGUS}/verification.yaml": verification()})
    story.commit("ifca", "2026-11-17T12:00:00Z", {REPORT: {"site": "IFCA-LCG2", "status": "rolling-out"}})


def _fill_ins(story) -> list[tuple[str, int | None, str]]:
    return [(p.pointer, p.line, p.message) for p in app.validate(str(story.path), "HEAD", NOW).problems
            if "FILL-IN" in p.message]


def test_the_unfilled_report_template_is_refused_at_every_blank_and_does_not_count(story):
    _rolling_out(story)
    template = report_template(app.read_world(str(story.path), "HEAD")[0], "argus/1.7.4", "IFCA-LCG2")
    story.commit("ifca", "2026-11-20T09:00:00Z", {REPORT: template})
    found = _fill_ins(story)
    assert sorted((pointer, line) for pointer, line, _ in found) == [
        ("/effort_hours", 18), ("/environment/hosts/0", 13), ("/environment/load", 16), ("/result", 6)]
    result = next(message for pointer, _, message in found if pointer == "/result")
    assert result == "/result still says FILL-IN"
    status = app.status(str(story.path), "HEAD", NOW).statuses["argus/1.7.4"]
    # The malformed report counts for nothing: the acceptance merged before it still stands.
    assert status.state == State.ROLLING_OUT and not any(e.kind.name == "REPORT" for e, _ in status.history)


@pytest.mark.parametrize("blank, pointer", [
    ("hosts: [FILL-IN]", "/environment/hosts/0"),
    ("load: FILL-IN", "/environment/load"),
    ("comments: \"FILL-IN: anything else?\"", "/comments"),
])
def test_each_blank_the_schema_would_accept_is_refused(story, blank, pointer):
    _rolling_out(story)
    report = ("site: IFCA-LCG2\nstatus: done\nresult: success\n"
              f"tested: {{version: \"1.7.4\", packages: [{{name: argus-pap, sha256: {'a' * 64}}}]}}\n"
              "environment:\n  hosts: [ce01.ifca.example.org]\n  load: production\neffort_hours: 3\n"
              "comments: \"\"\n")
    key = blank.split(":")[0]
    report = "\n".join(f"{'  ' if key in ('hosts', 'load') else ''}{blank}" if line.strip().startswith(key + ":")
                       else line for line in report.splitlines()) + "\n"
    story.commit("ifca", "2026-11-20T09:00:00Z", {REPORT: report})
    assert [p for p, _, _ in _fill_ins(story)] == [pointer]


def test_blanks_in_every_kind_of_file_are_refused_and_comments_may_say_it(story, capsys):
    _rolling_out(story)
    story.commit("andrea", "2026-11-18T09:00:00Z", {
        "releases/argus/1.7.5/release.yaml": manifest(version="1.7.5", changelog="FILL-IN")})
    story.commit("maria", "2026-11-20T09:00:00Z", {f"{ARGUS}/decision.yaml":
                                                  "# Fill every FILL-IN.\noutcome: success\nsummary: FILL-IN\n"})
    story.commit("grnet", "2026-11-20T10:00:00Z", {"adopters/GRNET.yaml": (TOP / "adopters/GRNET.yaml").read_text()
                                                   .replace("site: GRNET", "site: GRNET\n# FILL-IN is fine here")})
    files = {p.file for p in app.validate(str(story.path), "HEAD", NOW).problems if "FILL-IN" in p.message}
    assert files == {"releases/argus/1.7.5/release.yaml", f"{ARGUS}/decision.yaml"}
    assert cli.main(["--repo", str(story.path), "validate", "--now", NOW.isoformat()]) == 1
    assert "decision.yaml:3 /summary: /summary still says FILL-IN" in capsys.readouterr().out
