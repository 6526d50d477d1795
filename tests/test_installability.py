"""The installability gate: before a release's verification counts, the controller checks with real
dnf (repoclosure) and apt (a simulated install) that its packages install into Staged Rollout with
Production, on the metadata served at the public URL. A release that needs a package no channel
provides is refused, naming it; it passes once the package reaches Production; the technology
unit's waiver lets it through and shows in status and on the release page."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
from builders import build_deb, build_rpm
from clients import Apt, Dnf
from conftest import configured_story, manifest, verification
from servers import FileServer

from controller import cli
from controller.apply import gate
from controller.reconcile import Options, reconcile

ARGUS = "releases/argus/1.8.0"
UNICORE = "releases/unicore-server/9.3.0"
COMMON = "releases/argus/1.7.5"
CHECK = gate.Settings("auto", check_dates=False)


def packages(folder: str, built: list) -> tuple[dict[str, bytes], list[dict]]:
    """The files to commit under ``folder`` and their manifest entries."""
    files, entries = {}, []
    for path, fields in built:
        data = path.read_bytes()
        files[f"{folder}/packages/{path.name}"] = data
        entries.append({**fields, "path": f"packages/{path.name}", "sha256": hashlib.sha256(data).hexdigest(),
                        "size": len(data)})
    return files, entries


def release(folder: str, component: str, version: str, built: list, **extra) -> dict[str, object]:
    files, entries = packages(folder, built)
    return {**files, f"{folder}/release.yaml": manifest(component, version, packages=entries, **extra)}


def rpm(path) -> tuple:
    name, version, rest = path.name.rsplit("-", 2)
    return path, {"name": name, "version": version, "release": rest.removesuffix(".noarch.rpm"), "arch": "noarch",
                  "platform": "el9"}


def deb(path) -> tuple:
    name, version, _ = path.name.split("_")
    return path, {"name": name, "version": version, "arch": "all", "platform": "bookworm"}


class Site:
    def __init__(self, tmp, server: FileServer):
        self.story = configured_story(tmp / "repo")
        self.publish, self.state, self.server = server.root, tmp / "state", server
        self.dnf, self.apt = Dnf(tmp / "dnf", self.publish), Apt(tmp / "apt", self.publish)

    def run(self, now: str):
        return reconcile(Options(str(self.story.path), "HEAD", instant(now), self.publish, self.state,
                                 base_url=self.server.url, installability=CHECK))

    def status(self, now: str, capsys, *extra: str) -> dict[str, dict]:
        cli.main(["--repo", str(self.story.path), "status", "--now", now, "--publish-dir", str(self.publish),
                  "--format", "json", *extra])
        return {r["release"]: r for r in json.loads(capsys.readouterr().out)["releases"]}


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("installability")
    (tmp / "public").mkdir()
    built = tmp / "built"
    built.mkdir()
    with FileServer(tmp / "public") as server:
        site = Site(tmp, server)
        # argus-pap needs argus-pap-common, which no channel has yet; unicore-server needs a
        # library that nothing ships.
        site.story.commit("andrea", "2026-11-02T09:00:00Z", release(ARGUS, "argus", "1.8.0", [
            rpm(build_rpm(built, "argus-pap", "1.8.0", requires="argus-pap-common >= 1.7")),
            deb(build_deb(built, "argus-pap", "1.8.0-1", depends="argus-pap-common (>= 1.7)"))]))
        site.story.commit("jonas", "2026-11-02T09:30:00Z", release(UNICORE, "unicore-server", "9.3.0", [
            rpm(build_rpm(built, "unicore-server", "9.3.0", requires="unicore-legacy-auth"))]))
        site.first = site.run("2026-11-02T10:00:00Z")
        site.built = built
        yield site


def test_a_release_needing_a_package_no_channel_provides_is_refused_at_verification(site, capsys):
    assert [c.release for c in site.first.plan.plan.checks] == [ARGUS.removeprefix("releases/"),
                                                                 UNICORE.removeprefix("releases/")]
    before = site.story.commit("ines", "2026-11-03T09:00:00Z", {f"{ARGUS}/verification.yaml": verification()})
    site.run("2026-11-03T10:00:00Z")

    argus = site.status("2026-11-03T10:00:00Z", capsys)["argus/1.8.0"]
    assert argus["state"] == "unverified"
    assert argus["installability"]["state"] == "failed"
    assert {(m["repository"], m["arch"], m["requires"].split()[0]) for m in argus["installability"]["missing"]} == {
        ("umd5-el9", "x86_64", "argus-pap-common"), ("umd5-bookworm", "amd64", "argus-pap-common")}
    [refusal] = [p for p in argus["problems"] if p["rule"] == "installability"]
    assert refusal["file"] == f"{ARGUS}/verification.yaml" and "argus-pap-common" in refusal["message"]
    assert "installability_waiver" in refusal["hint"]
    assert "argus-pap" not in {p.split("-1.8")[0] for p in site.dnf.available().get("staged-rollout", set())}

    # The pull request that adds the verification is annotated with what is missing.
    code = cli.main(["--repo", str(site.story.path), "validate", "--base", f"{before}~1", "--at", before,
                     "--now", "2026-11-03T10:00:00Z", "--format", "github", "--publish-dir", str(site.publish)])
    said = capsys.readouterr().out
    assert code == 1
    [annotation] = [line for line in said.splitlines() if "title=installability" in line]
    assert annotation.startswith(f"::error file={ARGUS}/verification.yaml")
    assert "argus-pap-common" in annotation and "umd5-el9" in annotation and "umd5-bookworm" in annotation


def test_the_same_release_passes_once_its_dependency_is_in_production(site, capsys):
    common = release(COMMON, "argus", "1.7.5", [rpm(build_rpm(site.built, "argus-pap-common", "1.7.5")),
                                                 deb(build_deb(site.built, "argus-pap-common", "1.7.5-1"))],
                     category="emergency", emergency={"justification": "The library argus 1.8.0 needs, at once.",
                                                      "skip_staged_rollout": True})
    site.story.commit("andrea", "2026-11-04T08:00:00Z", common)
    site.run("2026-11-04T08:30:00Z")
    site.story.commit("ines", "2026-11-04T09:00:00Z", {f"{COMMON}/verification.yaml": verification()})
    site.story.commit("maria", "2026-11-04T10:00:00Z", {f"{COMMON}/decision.yaml": {
        "outcome": "success", "summary": "Needed by argus 1.8.0.", "skip_staged_rollout": True}})
    site.run("2026-11-04T11:00:00Z")  # argus-pap-common reaches Production
    site.run("2026-11-04T12:00:00Z")  # the channels changed: argus 1.8.0 is checked again

    found = site.status("2026-11-04T12:00:00Z", capsys)
    assert found["argus/1.7.5"]["state"] == "production"
    argus = found["argus/1.8.0"]
    assert argus["state"] == "verified" and argus["installability"]["state"] == "passed", argus
    assert not [p for p in argus["problems"] if p["rule"] == "installability"]
    done = site.dnf.run("install", "--repo", "umd5-el9-staged-rollout", "--repo", "umd5-el9-production", "argus-pap")
    assert done.returncode == 0 and "argus-pap-common" in done.stdout, done.stderr


def test_a_waiver_of_the_technology_unit_lets_a_release_through_and_shows(site, capsys):
    waived = {**verification(), "installability_waiver": {
        "reason": "unicore-legacy-auth ships with the site's own batch system; documented in the notes."}}
    # The provider cannot waive: a waiver is part of the verification, authorized like it.
    site.story.commit("jonas", "2026-11-05T08:00:00Z", {f"{UNICORE}/verification.yaml": waived})
    unicore = site.status("2026-11-05T08:30:00Z", capsys)["unicore-server/9.3.0"]
    assert unicore["state"] == "unverified" and unicore["installability"]["state"] == "failed"
    site.story.commit("ines", "2026-11-05T09:00:00Z", {f"{UNICORE}/verification.yaml": {**waived, "notes": "Waived."}})
    site.run("2026-11-05T10:00:00Z")

    unicore = site.status("2026-11-05T10:00:00Z", capsys)["unicore-server/9.3.0"]
    assert unicore["state"] == "verified" and unicore["installability"]["state"] == "waived"
    assert "unicore-legacy-auth ships with the site's own batch system" in unicore["installability"]["summary"]
    cli.main(["--repo", str(site.story.path), "status", "unicore-server/9.3.0", "--now", "2026-11-05T10:00:00Z",
              "--publish-dir", str(site.publish)])
    assert "installability: waived by the technology unit: unicore-legacy-auth" in capsys.readouterr().out
    page = (site.publish / "site/releases/unicore-server-9.3.0.html").read_text()
    assert "waived by the technology unit" in page and "unicore-legacy-auth" in page
