"""Dated snapshots end to end: a real git history, real createrepo_c and gpg, a real HTTP server,
and real dnf installing from a snapshot what Production no longer has."""

from __future__ import annotations

import subprocess

from conftest import ARC, NOW, arc_packages, arc_release, report_done, verification
from test_reconcile import at, run, site  # noqa: F401  (the fixture: a publish directory served over HTTP)

from controller import app
from controller.apply import state as remembered
from controller.core.model import State
from controller.reconcile import Options, make_plan


def options(story, site, now: str) -> Options:  # noqa: F811
    return Options(str(story.path), "HEAD", at(now), site.publish, site.state, base_url=site.server.url)

SNAPSHOTS = "repos-config/snapshots.yaml"
RPM = "arc-ce-6.19.0-1.el9"


def in_production(story, site):  # noqa: F811
    """arc-ce 6.19.0 through staged rollout into Production on 2026-11-11."""
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release(), "arc-ce 6.19.0")
    story.commit("ines", "2026-11-03T09:00:00Z", {f"{ARC}/verification.yaml": verification()})
    story.commit("cesga", "2026-11-03T12:00:00Z", {f"{ARC}/reports/CESGA.yaml": report_done(
        "CESGA", "6.19.0", arc_packages())})
    story.commit("maria", "2026-11-04T12:00:00Z", {f"{ARC}/decision.yaml": {"outcome": "success", "summary": "ok"}})
    outcome = run(story, site, "2026-11-12T12:00:00Z")
    assert outcome.plan.assessment.statuses["arc-ce/6.19.0"].state == State.PRODUCTION


def test_dnf_installs_from_a_snapshot_what_production_no_longer_has(story, site):  # noqa: F811
    in_production(story, site)
    story.commit("maria", "2026-11-13T08:00:00Z", {SNAPSHOTS: {"snapshots": [
        {"channel": "production", "date": "2026-11-12", "reason": "sites reproduce November's installation"}]}})
    taken = run(story, site, "2026-11-13T08:30:00Z")
    assert [a.label for a in taken.plan.plan.channels] == ["production-2026-11-12"]
    story.commit("maria", "2026-11-13T09:00:00Z", {f"{ARC}/withdrawal.yaml": {"reason": "broken CRL handling"}})
    outcome = run(story, site, "2026-11-13T10:00:00Z")
    assert outcome.plan.assessment.statuses["arc-ce/6.19.0"].state == State.WITHDRAWN
    assert [a.label for a in outcome.plan.plan.channels] == ["production"]

    assert site.dnf.available()["production"] == set()
    snapshot = site.publish / "production-2026-11-12"
    (site.dnf.home / "repos" / "snapshot.repo").write_bytes((snapshot / "umd5-el9.repo").read_bytes())
    installed = site.dnf.run("install", "arc-ce")
    assert installed.returncode == 0, installed.stderr
    assert (site.dnf.home / "root/usr/share/arc-ce/VERSION").read_text() == f"arc-ce {RPM.removeprefix('arc-ce-')}\n"
    # apt reads the snapshot's own suite, signed, through its deb822 file with the key inside.
    assert site.apt.update().returncode == 0
    (site.apt.home / "sources" / "snapshot.sources").write_bytes((snapshot / "umd5-bookworm.sources").read_bytes())
    update = subprocess.run(["apt-get", *site.apt.options(), "update"], capture_output=True, text=True)
    assert update.returncode == 0 and "W:" not in update.stderr, update.stderr
    policy = subprocess.run(["apt-cache", *site.apt.options(), "policy", "arc-ce"], capture_output=True, text=True)
    assert "umd5-bookworm-production-2026-11-12/main" in policy.stdout and "6.19.0-1" in policy.stdout

    page = (site.publish / "site/releases/arc-ce-6.19.0.html").read_text()
    assert "dated snapshot production/2026-11-12" in page
    assert 'href="../../production-2026-11-12/umd5-el9.repo"' in page

    later = make_plan(options(story, site, "2026-11-14T10:00:00Z"))
    assert not any(a.snapshot for a in later.plan.channels)  # published once, then kept as it is
    # The snapshot's apt suite is signed again before its Valid-Until (7 days) runs out: a run
    # that renews only the live channels still knows when the snapshot is due.
    renewed = run(story, site, "2026-11-17T12:00:00Z")
    assert {a.label for a in renewed.plan.plan.channels} == {"unverified", "staged-rollout"}
    assert remembered.read_last_run(site.state)["valid_until"] == "2026-11-18T08:30:00+00:00"
    renewal = make_plan(options(story, site, "2026-11-18T08:30:00Z"))
    assert [(a.label, a.reason) for a in renewal.plan.channels] == [("production-2026-11-12",
                                                                     "apt Valid-Until renewal")]


def test_a_snapshot_whose_day_is_not_over_waits(story, site):  # noqa: F811
    in_production(story, site)
    story.commit("maria", "2026-11-12T13:00:00Z", {SNAPSHOTS: {"snapshots": [{"channel": "production",
                                                                              "date": "2026-11-12"}]}})
    outcome = run(story, site, "2026-11-12T14:00:00Z")
    assert not any(a.snapshot for a in outcome.plan.plan.channels)
    outcome = run(story, site, "2026-11-13T08:00:00Z")
    assert [a.label for a in outcome.plan.plan.channels if a.snapshot] == ["production-2026-11-12"]


def test_bad_snapshot_entries_are_named(story):
    story.commit("maria", "2026-11-13T08:00:00Z", {SNAPSHOTS: {"snapshots": [
        {"channel": "production", "date": "2026-11-31"},
        {"channel": "production", "date": "2026-11-12"},
        {"channel": "production", "date": "2026-11-12"}]}})
    problems = [(p.pointer, p.message) for p in app.validate(str(story.path), "HEAD", NOW).problems
                if p.file == SNAPSHOTS]
    assert problems == [("/snapshots/0/date", "date '2026-11-31' is not a real date"),
                        ("/snapshots/2", "snapshot production/2026-11-12 is listed twice")]
    unknown = {"snapshots": [{"channel": "live", "date": "2026-11-12"}]}
    story.commit("maria", "2026-11-14T08:00:00Z", {SNAPSHOTS: unknown})
    problems = [p for p in app.validate(str(story.path), "HEAD", NOW).problems if p.file == SNAPSHOTS]
    assert any(p.pointer == "/snapshots/0/channel" and "production" in p.message for p in problems)
