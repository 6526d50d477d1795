"""rolloutctl init: a new federation repository that validates clean, and a release walked through
it from release new to Production, installed by real dnf and apt."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import yaml
from builders import build_deb, build_rpm
from clients import Apt, Dnf
from conftest import TOP
from example_repo import GitWriter
from servers import FileServer

from controller import __version__, app, cli
from controller.core.model import State
from controller.core.report_template import report_template
from controller.reconcile import Options, reconcile

PEOPLE = {"manager": ("Example Manager", "manager@example.org"),
          "verifier": ("Example Verifier", "verifier@example.org"),
          "provider": ("Example Provider", "provider@example.org"),
          "site": ("Example Site Admin", "admin@site.example.org")}
RELEASE = "releases/example-component/1.2.0"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def commit(git: GitWriter, who: str, when: str, files: dict[str, str | bytes] | None = None) -> None:
    for path, content in (files or {}).items():
        git.write(path, content)
    git.commit(f"{who}: change", *PEOPLE[who], when)


def test_init_writes_a_repository_that_validates_clean(tmp_path, capsys):
    target = tmp_path / "fed"
    assert cli.main(["init", str(target), "--name", "Fed", "--country", "NL", "--timezone", "Europe/Amsterdam"]) == 0
    assert (target / ".git").is_dir()
    schemas = {p.name for p in (TOP / "schemas").glob("*.schema.json")}
    assert {p.name for p in (target / "schemas").iterdir()} == schemas
    for path in [*target.glob("repos-config/*.yaml"), *target.glob("adopters/*.yaml")]:
        schema = path.read_text().splitlines()[0].split("$schema=")[1]
        assert (path.parent / schema).resolve().is_file(), path  # the editor finds it
    ours = {p.name: p.read_text() for p in (TOP / ".github/workflows").glob("*.yml")}
    theirs = {p.name: p.read_text() for p in (target / ".github/workflows").glob("*.yml")}
    # The tool's own workflows as they are now, installing the package instead of the checkout.
    pinned = f'pip install "rolloutctl=={__version__}"'
    assert theirs == {name: text.replace("pip install .", pinned) for name, text in ours.items()}
    assert "/releases/example-component/*/release.yaml @example-provider" in (target / ".github/CODEOWNERS").read_text()
    readme = (target / "README.md").read_text()
    assert "rolloutctl release new" in readme and "SIGNING_KEY" in readme
    calendar = yaml.safe_load((target / "repos-config/calendar.yaml").read_text())
    assert calendar["country"] == "NL" and calendar["timezone"] == "Europe/Amsterdam"

    commit(GitWriter(target), "manager", "2027-03-01T08:00:00Z")
    assert app.validate(str(target), "HEAD", at("2027-03-01T08:30:00")).problems == []
    capsys.readouterr()
    # Kept current: an update changes nothing until roles or the tool change.
    assert cli.main(["init", str(target), "--update"]) == 0
    assert "everything is up to date" in capsys.readouterr().out
    assert cli.main(["init", str(target), "--name", "Fed", "--country", "NL"]) == 2
    assert "is not empty" in capsys.readouterr().err


def test_a_release_goes_from_init_to_production_and_installs_with_dnf_and_apt(tmp_path):
    target = tmp_path / "fed"
    assert cli.main(["init", str(target), "--name", "Fed", "--country", "NL", "--timezone", "Europe/Amsterdam"]) == 0
    git = GitWriter(target)
    commit(git, "manager", "2027-03-01T08:00:00Z")

    built = tmp_path / "built"
    built.mkdir()
    rpm = build_rpm(built, "example-component", "1.2.0", "1.el9")
    deb = build_deb(built, "example-component", "1.2.0-1", "zstd")
    assert cli.main(["--repo", str(target), "release", "new", "example-component", "1.2.0",
                     "--package", str(rpm), "--package", str(deb)]) == 0
    manifest = (target / RELEASE / "release.yaml").read_text()
    filled = (manifest.replace("summary: FILL-IN", "summary: Example component 1.2.0")
              .replace("release_notes: FILL-IN", "release_notes: https://example.org/1.2.0/notes")
              .replace("changelog: FILL-IN", "changelog: First release.")
              .replace("{title: FILL-IN, url: FILL-IN}", "{url: \"https://example.org/1.2.0/qa\"}")
              .replace("provider: {name: FILL-IN, contact: FILL-IN}",
                       "provider: {name: Example team, contact: provider@example.org}")
              .replace("  - {title: FILL-IN, url: FILL-IN}", "  - {url: \"https://example.org/docs\"}"))
    assert "FILL-IN" not in filled.split("packages:")[0].replace("# Written by rolloutctl release new. Replace every "
                                                                   "FILL-IN", "")
    commit(git, "provider", "2027-03-01T09:00:00Z", {f"{RELEASE}/release.yaml": filled})
    commit(git, "verifier", "2027-03-01T11:00:00Z", {f"{RELEASE}/verification.yaml": yaml.safe_dump(
        {"result": "verified", "checks": dict.fromkeys(["release_notes", "changelog", "certification", "documentation",
                                                        "bug_links", "installability"], "pass")})})
    report = f"{RELEASE}/reports/EXAMPLE-SITE.yaml"
    commit(git, "site", "2027-03-01T12:00:00Z", {report: "site: EXAMPLE-SITE\nstatus: rolling-out\n"})
    template = report_template(app.read_world(str(target), "HEAD")[0], "example-component/1.2.0", "EXAMPLE-SITE")
    done = (template.replace("result: FILL-IN", "result: success").replace("[FILL-IN]", "[ce.site.example.org]")
            .replace("load: FILL-IN", "load: production").replace("effort_hours: FILL-IN", "effort_hours: 2"))
    commit(git, "site", "2027-03-02T09:00:00Z", {report: done})
    commit(git, "manager", "2027-03-02T10:00:00Z", {f"{RELEASE}/decision.yaml": "outcome: success\nsummary: Fine.\n"})
    problems = app.validate(str(target), "HEAD", at("2027-03-02T11:00:00")).problems
    assert problems == [], "\n".join(p.render() for p in problems)

    publish = tmp_path / "public"
    publish.mkdir()
    with FileServer(publish) as server:
        outcome = reconcile(Options(str(target), "HEAD", at("2027-03-10T12:00:00"), publish, tmp_path / "state",
                                    base_url=server.url))
        assert outcome.plan.assessment.statuses["example-component/1.2.0"].state == State.PRODUCTION
        dnf = Dnf(tmp_path / "dnf", publish, "fed1-el9")
        installed = dnf.run("install", "example-component")
        assert installed.returncode == 0, installed.stderr
        apt = Apt(tmp_path / "apt", publish, "fed1-bookworm")
        assert apt.update().returncode == 0
        unpacked = apt.install("example-component")
        assert unpacked.returncode == 0, unpacked.stderr
    assert (dnf.home / "root/usr/share/example-component/VERSION").read_text() == "example-component 1.2.0-1.el9\n"
    assert (apt.home / "root/usr/share/example-component/VERSION").read_text() == "example-component 1.2.0-1\n"
    sums = {p["sha256"] for p in yaml.safe_load(filled)["packages"]}
    assert sums == {hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in (rpm, deb)}
