"""The transition table itself: every state reachable, every pair outside it refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controller.core.lifecycle import DEFERRED, TRANSITIONS, reachable_states, replay
from controller.core.model import Calendar, State
from controller.core.timeline import Event, Kind
from controller.core.workdays import add_working_hours, working_hours_between

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_every_state_is_reachable_from_certified():
    assert reachable_states() == set(State)


# The shortest event sequence that brings a release into each state.
PATHS = {
    State.CERTIFIED: [],
    State.INGEST_FAILED: [Kind.INGEST_FAIL],
    State.UNVERIFIED: [Kind.INGEST],
    State.VERIFIED: [Kind.INGEST, Kind.VERIFY],
    State.ROLLING_OUT: [Kind.INGEST, Kind.VERIFY, Kind.ACCEPT],
    State.DONE: [Kind.INGEST, Kind.VERIFY, Kind.ACCEPT, Kind.REPORT],
    State.APPROVED: [Kind.INGEST, Kind.VERIFY, Kind.ACCEPT, Kind.REPORT, Kind.DECIDE_APPROVE],
    State.PRODUCTION: [Kind.INGEST, Kind.VERIFY, Kind.DECIDE_SKIP],
}


def run(kinds: list[Kind]):
    events = [Event(k, at(i + 1), path=f"file-{i}", site="SITE") for i, k in enumerate(kinds)]
    return replay(T0, events, at(100))


@pytest.mark.parametrize("state", list(PATHS))
def test_each_path_reaches_its_state(state):
    assert run(PATHS[state]).state == state


@pytest.mark.parametrize("state,kind", [
    (state, kind) for state in PATHS for kind in Kind
    if (state, kind) not in TRANSITIONS and (state, kind) not in DEFERRED
    and kind not in (Kind.INGEST, Kind.INGEST_FAIL, Kind.OBSOLETE, Kind.GRACE_OVER)
])
def test_every_missing_pair_is_refused_and_leaves_the_state(state, kind):
    result = run(PATHS[state] + [kind])
    assert result.state == state
    assert len(result.refused) == 1 and result.refused[0].rule == "order"


def test_verification_before_ingestion_waits_for_it():
    events = [Event(Kind.VERIFY, at(1), "v"), Event(Kind.INGEST, at(5))]
    result = replay(T0, events, at(10))
    assert result.state == State.VERIFIED and result.since == at(5) and not result.refused


def test_events_after_now_are_not_applied():
    events = [Event(Kind.INGEST, at(1)), Event(Kind.VERIFY, at(50))]
    assert replay(T0, events, at(10)).state == State.UNVERIFIED


def test_done_needs_every_accepting_site():
    events = [Event(Kind.INGEST, at(1)), Event(Kind.VERIFY, at(2)), Event(Kind.ACCEPT, at(3), site="A"),
              Event(Kind.ACCEPT, at(4), site="B"), Event(Kind.REPORT, at(5), site="A")]
    assert replay(T0, events, at(10)).state == State.ROLLING_OUT
    events.append(Event(Kind.REPORT, at(6), site="B"))
    assert replay(T0, events, at(10)).state == State.DONE


CAL = Calendar("Europe/Amsterdam", (5, 6), ("2026-12-25",), "08:00", "16:00")


def test_working_hours_skip_weekends_and_nights():
    friday_afternoon = datetime(2026, 11, 20, 14, tzinfo=UTC)  # 15:00 in Amsterdam
    # One working hour is left on Friday; the other seven run on Monday from 08:00 (07:00 UTC).
    assert add_working_hours(CAL, friday_afternoon, 8) == datetime(2026, 11, 23, 14, tzinfo=UTC)
    assert working_hours_between(CAL, friday_afternoon, datetime(2026, 11, 23, 14, tzinfo=UTC)) == 8


def test_holidays_stop_the_clock():
    christmas_eve = datetime(2026, 12, 24, 7, tzinfo=UTC)  # 08:00 local, Thursday
    # Thursday has 8 hours, Friday 25th is a holiday, so the 9th hour is on Monday 28th.
    assert add_working_hours(CAL, christmas_eve, 9) == datetime(2026, 12, 28, 8, tzinfo=UTC)


def test_steps_merged_before_ingestion_wait_for_it_in_order():
    events = [Event(Kind.VERIFY, at(1), "v"), Event(Kind.ACCEPT, at(2), "r", site="A"),
              Event(Kind.REPORT, at(3), "r", site="A"), Event(Kind.INGEST, at(5))]
    result = replay(T0, events, at(10))
    assert result.state == State.DONE and result.since == at(5) and not result.refused
