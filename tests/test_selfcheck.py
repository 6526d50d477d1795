"""The self-check after a publication: real dnf and apt read every switched channel back through
the public URL; a channel that differs from the plan is switched back to its previous generation,
the repository managers are told once, and `status --check` fails until a later run passes."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import pytest
from clients import Apt, Dnf, repodata
from conftest import ARC, arc_release, configured_story, verification
from servers import FileServer
from test_notify import Inbox, Server

from controller import cli
from controller.apply import selfcheck
from controller.core.model import Channel
from controller.notify.mail import SmtpSettings
from controller.publish.local import LocalTarget
from controller.reconcile import Options, reconcile

RPM = "arc-ce-6.19.0-1.el9"
REPOSITORY_MANAGER = "pieter.devries@umd.example.org"
CHECK = selfcheck.Settings("both", check_dates=False, attempts=1, pause=0)


class Site:
    """A release repository, its publish directory served over HTTP, dnf and apt pointed at it,
    and a mail server: shared by the tests of this module, which continue one story."""

    def __init__(self, tmp, server: FileServer, inbox: Inbox, smtp: SmtpSettings):
        self.story = configured_story(tmp / "repo")
        self.publish, self.state, self.server = server.root, tmp / "state", server
        self.inbox, self.smtp = inbox, smtp
        self.dnf, self.apt = Dnf(tmp / "dnf", self.publish), Apt(tmp / "apt", self.publish)

    def run(self, now: str, **extra):
        when = datetime.fromisoformat(now.replace("Z", "+00:00")).astimezone(UTC)
        return reconcile(Options(str(self.story.path), "HEAD", when, self.publish, self.state,
                                 base_url=self.server.url, smtp=self.smtp, self_check=CHECK, **extra))

    def status_check(self, now: str, capsys) -> tuple[int, str]:
        code = cli.main(["--repo", str(self.story.path), "status", "--now", now, "--publish-dir", str(self.publish),
                         "--check", "--quiet"])
        return code, capsys.readouterr().err

    def seen(self) -> tuple[dict[str, set[str]], dict[str, str]]:
        update = self.apt.update()
        assert update.returncode == 0 and "W:" not in update.stderr, update.stderr
        return self.dnf.available(), self.apt.candidates("arc-ce")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("selfcheck")
    (tmp / "public").mkdir()
    inbox = Inbox()
    mail = Server(inbox)
    mail.start()
    with FileServer(tmp / "public") as server:
        site = Site(tmp, server, inbox, SmtpSettings("127.0.0.1", mail.port, sender="rolloutctl@umd.example.org"))
        site.story.commit("lars", "2026-11-02T09:00:00Z", arc_release(), "arc-ce 6.19.0")
        site.first = site.run("2026-11-02T10:00:00Z")
        yield site
    mail.stop()


def test_an_untampered_publication_passes_its_self_check(site, capsys):
    assert site.first.self_check == {"unverified": [], "staged-rollout": [], "production": []}
    assert not site.first.failed
    record = selfcheck.read_record(LocalTarget(site.publish.parent / ".public-private/state"))
    assert {channel: entry["ok"] for channel, entry in record.items()} == dict.fromkeys(
        ("unverified", "staged-rollout", "production"), True)
    assert site.status_check("2026-11-02T10:00:00Z", capsys) == (0, "check: all well\n")


def tamper(publish, channel: Channel) -> None:
    """Between the switch and the check: the new generation's primary.xml loses its packages and
    the suite's InRelease is edited (what a broken sync, a storage fault or a hand would do)."""
    if channel != Channel.UNVERIFIED:
        return
    primary = next(repodata(publish, "unverified").glob("*primary.xml.gz"))
    primary.write_bytes(gzip.compress(b"<metadata packages='0'/>"))
    release = publish / "dists/umd5-bookworm-unverified/InRelease"
    release.write_bytes(release.read_bytes().replace(b"Suite: unverified", b"Suite: tampered"))


def test_a_channel_tampered_after_its_switch_is_switched_back_and_reported_once(site, capsys):
    site.story.commit("ines", "2026-11-03T09:00:00Z", {f"{ARC}/verification.yaml": verification()})
    outcome = site.run("2026-11-03T10:00:00Z", after_switch=lambda channel: tamper(site.publish, channel))

    problems = outcome.self_check["unverified"]
    assert any(p.startswith("umd5-el9: dnf could not read it") for p in problems), problems
    assert any(p.startswith("umd5-bookworm: apt could not read it") for p in problems), problems
    assert outcome.self_check["staged-rollout"] == [] and outcome.failed
    # Sites keep the previous generation of Unverified (arc-ce still in it); Staged Rollout switched.
    rpms, debs = site.seen()
    assert rpms["unverified"] == {RPM} and rpms["staged-rollout"] == {RPM}
    assert debs == {"unverified": "6.19.0-1", "staged-rollout": "6.19.0-1"}
    [(subject, to, body)] = [m for m in site.inbox.messages if "differs" in m[0]]
    assert subject.startswith("the unverified channel served at http://127.0.0.1:") and to == {REPOSITORY_MANAGER}
    assert "umd5-el9: dnf could not read it" in body and "switched back" in body
    code, said = site.status_check("2026-11-03T10:30:00Z", capsys)
    assert code == 1 and "self-check of unverified failed" in said and "previous generation is served" in said

    # The next run publishes Unverified again, rewriting what was tampered with, and checks it.
    again = site.run("2026-11-03T11:00:00Z")
    assert [a.channel for a in again.plan.actions] == [Channel.UNVERIFIED]
    assert again.self_check == {"unverified": []} and not again.failed
    rpms, debs = site.seen()
    assert rpms["unverified"] == set() and debs == {"staged-rollout": "6.19.0-1"}
    assert len([m for m in site.inbox.messages if "differs" in m[0]]) == 1
    assert site.status_check("2026-11-03T11:00:00Z", capsys) == (0, "check: all well\n")


