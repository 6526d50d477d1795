"""Advisories as dnf reads them: its severity words, testing until Production, real reference ids;
real dnf filtering by severity and upgrading by advisory over HTTP."""

from __future__ import annotations

import gzip
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from builders import build_rpm
from clients import Dnf, repodata
from conftest import TOP, verification
from servers import FileServer

from controller import app, cli
from controller.reconcile import Options, reconcile

UNICORE = "releases/unicore-server/9.2.1"
ARC = "releases/arc-ce/6.19.0"
ADVISORY = "UMD5-unicore-server-9.2.1"


def _files(release: str, manifest: str | None = None) -> dict:
    files = {f"{release}/release.yaml": manifest or (TOP / release / "release.yaml").read_text()}
    files.update({f"{release}/packages/{p.name}": p.read_bytes() for p in (TOP / release / "packages").iterdir()})
    return files


def _updates(publish, channel: str) -> dict[str, ET.Element]:
    root = ET.fromstring(gzip.decompress(next(repodata(publish, channel).glob("*-updateinfo.xml.gz")).read_bytes()))
    return {u.findtext("id"): u for u in root.iter("update")}


def test_dnf_filters_the_critical_advisory_and_upgrades_by_it(story, tmp_path):
    publish = tmp_path / "public"
    publish.mkdir()
    story.commit("jonas", "2026-11-10T07:30:00Z", _files(UNICORE), "unicore-server 9.2.1")
    story.commit("lars", "2026-11-10T07:40:00Z", _files(ARC), "arc-ce 6.19.0")
    with FileServer(publish) as server:
        def run(now: str) -> None:
            reconcile(Options(str(story.path), "HEAD", datetime.fromisoformat(now).replace(tzinfo=UTC), publish,
                              tmp_path / "state", base_url=server.url))

        run("2026-11-10T08:00:00")
        testing = _updates(publish, "unverified")
        unicore, arc = testing[ADVISORY], testing["UMD5-arc-ce-6.19.0"]
        assert (unicore.get("type"), unicore.get("status"), unicore.findtext("severity")) == \
            ("security", "testing", "Critical")
        references = {(r.get("type"), r.get("id")) for r in unicore.iter("reference")}
        assert references >= {("vendor", "SVG-2026-0117"), ("cve", "CVE-2026-41822"), ("self", ADVISORY)}
        assert arc.get("type") == "enhancement" and arc.find("severity") is None
        assert ("bugzilla", "ARC-4120") in {(r.get("type"), r.get("id")) for r in arc.iter("reference")}

        story.commit("ines", "2026-11-10T09:00:00Z", {f"{UNICORE}/verification.yaml": verification()})
        story.commit("maria", "2026-11-10T10:00:00Z",
                     {f"{UNICORE}/decision.yaml": (TOP / UNICORE / "decision.yaml").read_text()})
        run("2026-11-10T11:00:00")
        assert _updates(publish, "production")[ADVISORY].get("status") == "stable"

        dnf = Dnf(tmp_path / "dnf", publish)
        old = build_rpm(tmp_path, "unicore-server", "9.2.0")
        assert dnf.run("install", "--nogpgcheck", str(old)).returncode == 0
        listed = dnf.run("updateinfo", "list", "--sec-severity", "Critical")
        assert listed.returncode == 0, listed.stderr
        assert f"{ADVISORY} Critical/Sec." in " ".join(listed.stdout.split()), listed.stdout
        assert ADVISORY not in dnf.run("updateinfo", "list", "--sec-severity", "Low").stdout
        upgraded = dnf.run("upgrade", "--advisory", ADVISORY)
        assert upgraded.returncode == 0, upgraded.stderr
    assert (dnf.home / "root/usr/share/unicore-server/VERSION").read_text() == "unicore-server 9.2.1-1.el9\n"


def test_the_old_severity_words_still_load_with_a_warning(story, capsys):
    manifest = (TOP / UNICORE / "release.yaml").read_text().replace("severity: Critical", "severity: high")
    story.commit("jonas", "2026-11-10T07:30:00Z", _files(UNICORE, manifest))
    now = datetime(2026, 11, 10, 8, tzinfo=UTC)
    problems = app.validate(str(story.path), "HEAD", now).problems
    warned = [p for p in problems if p.rule == "severity-words"]
    assert [(p.level, p.line) for p in warned] == [("warning", 18)]
    assert "'high' is the old scale" in warned[0].message and warned[0].hint == "write severity: Important"
    assert cli.main(["--repo", str(story.path), "validate", "--now", now.isoformat()]) == 0
    out, err = capsys.readouterr()
    assert "warning: severity 'high'" in out and "no problems, 1 warning(s)" in err
