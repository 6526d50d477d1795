"""Freeze windows on real git histories: what they hold, until when, who may lift them, and what
the timers make of their days."""

from __future__ import annotations

from datetime import UTC, datetime

from conftest import ARC, arc_packages, arc_release, manifest, report_done, verification

from controller import app, cli
from controller.core.assess import Ingest, assess
from controller.core.desired import compute_desired
from controller.core.model import Channel, State
from controller.core.timeline import landing

R = "releases/argus/1.8.0"
FREEZES = "repos-config/freezes.yaml"
END_OF_YEAR = {"name": "end-of-year", "reason": "end-of-year break", "from": "2026-12-18", "until": "2027-01-04"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def assessed(story, now):
    """Every release assessed at ``now`` with its packages taken as fetched when it was merged."""
    world, problems = app.read_world(str(story.path), "HEAD")
    fetched = {key: Ingest(True, landing(world.snapshot, files.release.path).landed.committer.time)
               for key, files in world.releases.items() if files.release is not None}
    return world, assess(world, now, fetched, problems=problems)


def freeze(story, who, when, *entries):
    return story.commit(who, when, {FREEZES: {"freezes": list(entries)}}, "freezes")


def approved_the_day_before(story, doc=None):
    """argus 1.8.0 through staged rollout, approved on Thursday 2026-12-17 (the freeze starts the
    next day); a five-working-day grace period would end on 2026-12-28."""
    doc = doc or manifest()
    story.commit("andrea", "2026-12-14T09:00:00Z", {f"{R}/release.yaml": doc})
    story.commit("ines", "2026-12-14T10:00:00Z", {f"{R}/verification.yaml": verification()})
    story.commit("ifca", "2026-12-15T09:00:00Z",
                 {f"{R}/reports/IFCA-LCG2.yaml": report_done("IFCA-LCG2", "1.8.0", doc["packages"])})
    story.commit("maria", "2026-12-17T09:00:00Z", {f"{R}/decision.yaml": {"outcome": "success", "summary": "ok"}})


def emergency(story, when: str):
    """An emergency of argus that asks to skip staged rollout; the managers agree at ``when``."""
    doc = manifest(category="emergency", emergency={"justification": "a remote root exploit in the PAP",
                                                    "skip_staged_rollout": True})
    story.commit("andrea", "2026-12-21T08:00:00Z", {f"{R}/release.yaml": doc})
    story.commit("ines", "2026-12-21T08:30:00Z", {f"{R}/verification.yaml": verification()})
    story.commit("maria", when, {f"{R}/decision.yaml": {"outcome": "success", "summary": "urgent",
                                                         "skip_staged_rollout": True}})


def test_a_freeze_holds_a_release_approved_the_day_before_and_releases_it_at_its_end(story):
    freeze(story, "maria", "2026-12-01T09:00:00Z", END_OF_YEAR)
    approved_the_day_before(story)
    world, during = assessed(story, at("2026-12-29T12:00:00"))
    held = during.statuses["argus/1.8.0"]
    assert held.state == State.APPROVED and held.channel == "staged-rollout"
    end = at("2027-01-03T23:00:00")  # the start of 4 January in Amsterdam
    assert held.freeze == "end-of-year" and held.held_until == end
    assert held.waiting_for.startswith("held by the freeze end-of-year until 2027-01-03 23:00 UTC")
    assert not any(t.is_overdue(at("2026-12-29T12:00:00")) for t in held.timers)
    assert during.next_change == end
    assert not compute_desired(world, during, at("2026-12-29T12:00:00"))[Channel.PRODUCTION].repos[0].entries
    world, after = assessed(story, at("2027-01-04T09:00:00"))
    released = after.statuses["argus/1.8.0"]
    assert released.state == State.PRODUCTION and released.production_at == end and not released.freeze
    assert compute_desired(world, after, at("2027-01-04T09:00:00"))[Channel.PRODUCTION].repos[0].entries


def test_a_freeze_that_stops_timers_shifts_the_grace_period_past_it(story):
    freeze(story, "maria", "2026-12-01T09:00:00Z", {**END_OF_YEAR, "stops_timers": True})
    approved_the_day_before(story)
    _, result = assessed(story, at("2026-12-29T12:00:00"))
    status = result.statuses["argus/1.8.0"]
    grace = next(t for t in status.timers if t.name == "grace period")
    # 6 working hours on 17 December, then the freeze's days are days off: 4 more days from 4 January.
    assert grace.deadline == at("2027-01-08T09:00:00") and status.state == State.APPROVED
    assert not status.freeze  # the grace period has not ended: nothing to hold yet
    _, later = assessed(story, at("2027-01-08T10:00:00"))
    assert later.statuses["argus/1.8.0"].production_at == at("2027-01-08T09:00:00")


def test_an_emergency_passes_a_freeze_that_allows_it(story):
    freeze(story, "maria", "2026-12-01T09:00:00Z", {**END_OF_YEAR, "emergencies": "allowed"})
    emergency(story, "2026-12-21T09:00:00Z")
    _, result = assessed(story, at("2026-12-21T12:00:00"))
    status = result.statuses["argus/1.8.0"]
    assert status.state == State.PRODUCTION and status.production_at == at("2026-12-21T09:00:00")


def test_an_emergency_waits_for_a_freeze_that_holds_it(story):
    freeze(story, "maria", "2026-12-01T09:00:00Z", END_OF_YEAR)
    emergency(story, "2026-12-21T09:00:00Z")
    _, result = assessed(story, at("2026-12-21T12:00:00"))
    status = result.statuses["argus/1.8.0"]
    assert status.state == State.VERIFIED and status.freeze == "end-of-year"
    _, after = assessed(story, at("2027-01-04T09:00:00"))
    assert after.statuses["argus/1.8.0"].production_at == at("2027-01-03T23:00:00")


def test_a_lifted_freeze_releases_at_once_and_records_who_lifted_it(story):
    freeze(story, "maria", "2026-12-01T09:00:00Z", END_OF_YEAR)
    approved_the_day_before(story)
    lift = freeze(story, "maria", "2026-12-30T10:00:00Z", {**END_OF_YEAR, "lifted": {"reason": "fix needed now"}})
    _, result = assessed(story, at("2026-12-30T10:30:00"))
    status = result.statuses["argus/1.8.0"]
    assert status.state == State.PRODUCTION and status.production_at == at("2026-12-30T10:00:00")
    [window] = result.freezes
    assert window.lifted.by == "Maria Duarte" and lift.startswith(window.lifted.commit)
    assert window.lifted.reason == "fix needed now"


def test_a_lift_by_someone_without_the_role_does_not_count(story):
    freeze(story, "maria", "2026-12-01T09:00:00Z", END_OF_YEAR)
    approved_the_day_before(story)
    freeze(story, "andrea", "2026-12-30T10:00:00Z", {**END_OF_YEAR, "lifted": {"reason": "my release is ready"}})
    _, result = assessed(story, at("2026-12-30T10:30:00"))
    assert result.statuses["argus/1.8.0"].freeze == "end-of-year"
    assert any(p.file == FREEZES and p.rule == "roles" for p in result.findings)


def test_an_emergency_stop_holds_until_a_manager_lifts_it(story):
    approved_the_day_before(story)  # grace period ends on 2026-12-28
    freeze(story, "maria", "2026-12-23T15:00:00Z", {"name": "incident-42", "reason": "signing key compromised"})
    _, stopped = assessed(story, at("2027-02-01T12:00:00"))
    status = stopped.statuses["argus/1.8.0"]
    assert status.state == State.APPROVED and status.held_until is None
    assert status.waiting_for.startswith("held by the freeze incident-42 until a manager lifts it")
    assert "lift the freeze" in status.next_actor
    freeze(story, "ines", "2027-02-02T09:00:00Z", {"name": "incident-42", "reason": "signing key compromised",
                                                    "lifted": {"reason": "new key in place"}})
    _, technology_unit = assessed(story, at("2027-02-02T12:00:00"))
    assert technology_unit.statuses["argus/1.8.0"].state == State.APPROVED  # not a manager: refused
    # The same content would be no change at all: the manager writes the lift of her own.
    freeze(story, "maria", "2027-02-02T10:00:00Z", {"name": "incident-42", "reason": "signing key compromised",
                                                    "lifted": {"reason": "new key in place, checked"}})
    _, lifted = assessed(story, at("2027-02-02T12:00:00"))
    assert lifted.statuses["argus/1.8.0"].production_at == at("2027-02-02T10:00:00")


def test_a_freeze_never_demotes_what_reached_production_before_it_was_added(story):
    approved_the_day_before(story)  # Production on 2026-12-28
    freeze(story, "maria", "2026-12-29T09:00:00Z", {**END_OF_YEAR, "from": "2026-12-01"})
    _, result = assessed(story, at("2026-12-30T09:00:00"))
    status = result.statuses["argus/1.8.0"]
    assert status.state == State.PRODUCTION and status.production_at < at("2026-12-29T09:00:00")


def test_other_stacks_pass_a_freeze_of_one_stack(story):
    freeze(story, "maria", "2026-12-01T09:00:00Z", {**END_OF_YEAR, "stacks": ["arc"]})
    approved_the_day_before(story)
    _, result = assessed(story, at("2026-12-29T12:00:00"))
    assert result.statuses["argus/1.8.0"].state == State.PRODUCTION


def test_time_travel_with_now_still_holds(story, capsys):
    story.commit("lars", "2026-12-14T07:40:00Z", arc_release(), "arc-ce 6.19.0")
    story.commit("ines", "2026-12-14T10:00:00Z", {f"{ARC}/verification.yaml": verification()})
    story.commit("ifca", "2026-12-15T09:00:00Z",
                 {f"{ARC}/reports/IFCA-LCG2.yaml": report_done("IFCA-LCG2", "6.19.0", arc_packages())})
    story.commit("maria", "2026-12-17T09:00:00Z", {f"{ARC}/decision.yaml": {"outcome": "success", "summary": "ok"}})
    freeze(story, "maria", "2026-12-01T09:00:00Z", END_OF_YEAR)
    freeze(story, "maria", "2027-01-02T09:00:00Z", {**END_OF_YEAR, "lifted": {"reason": "all hands back"}})
    repo = str(story.path)
    assert cli.main(["--repo", repo, "status", "arc-ce/6.19.0", "--now", "2026-12-29T12:00:00Z"]) == 0
    assert "held by the freeze end-of-year until 2027-01-03 23:00 UTC" in capsys.readouterr().out
    assert cli.main(["--repo", repo, "status", "arc-ce/6.19.0", "--now", "2027-01-02T12:00:00Z"]) == 0
    out = capsys.readouterr().out
    assert "arc-ce/6.19.0: production since 2027-01-02 09:00 UTC" in out
    assert "lifted by Maria Duarte at 2027-01-02 09:00 UTC in commit" in out  # the audit trail


def test_bad_freezes_are_named_with_their_field(story):
    story.commit("maria", "2026-12-01T09:00:00Z", {FREEZES: {"freezes": [
        {"name": "typo", "reason": "r", "from": "2026-02-30", "until": "2026-03-02"},
        {"name": "backwards", "reason": "r", "from": "2026-12-20", "until": "2026-12-10"},
        {"name": "unknown", "reason": "r", "stacks": ["gLite"]},
        {"name": "unknown", "reason": "twice"},
    ]}})
    problems = {(p.pointer, p.message.split(": ", 1)[-1]) for p in app.validate(
        str(story.path), "HEAD", at("2026-12-01T10:00:00")).problems if p.file == FREEZES}
    assert problems == {
        ("/freezes/0/from", "from '2026-02-30' is not a real date or instant"),
        ("/freezes/1/until", "until 2026-12-10 is not after from 2026-12-20"),
        ("/freezes/2/stacks/0", "stack 'gLite' is not a stack of repos-config/distribution.yaml"),
        ("/freezes/3/name", "a second freeze named 'unknown'"),
    }


def test_a_malformed_freezes_file_is_refused_by_its_schema(story):
    story.commit("maria", "2026-12-01T09:00:00Z", {FREEZES: {"freezes": [{"name": "x", "until": "soon"}]}})
    problems = [p for p in app.validate(str(story.path), "HEAD", at("2026-12-01T10:00:00")).problems
                if p.file == FREEZES]
    assert {p.pointer for p in problems} >= {"/freezes/0", "/freezes/0/until"}
