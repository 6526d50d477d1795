"""The release lifecycle as a transition table, replayed over dated events up to ``now``.

State is a pure function of the events (from git), the ingestion outcomes and the clock. An event
that the current state does not accept is refused with a reason, never silently applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from controller.core.model import Config, ReleaseFiles, State
from controller.core.timeline import Event, Kind
from controller.core.workdays import add_working_hours
from controller.errors import Problem

S, K = State, Kind

# (state, event) -> next state. REPORT and ACCEPT in ROLLING_OUT/DONE are settled by _after_report.
TRANSITIONS: dict[tuple[State, Kind], State] = {
    (S.CERTIFIED, K.INGEST): S.UNVERIFIED,
    (S.CERTIFIED, K.INGEST_FAIL): S.INGEST_FAILED,
    (S.INGEST_FAILED, K.INGEST): S.UNVERIFIED,
    (S.INGEST_FAILED, K.INGEST_FAIL): S.INGEST_FAILED,
    (S.UNVERIFIED, K.VERIFY): S.VERIFIED,
    (S.UNVERIFIED, K.REJECT_VERIFY): S.REJECTED,
    (S.VERIFIED, K.ACCEPT): S.ROLLING_OUT,
    (S.ROLLING_OUT, K.ACCEPT): S.ROLLING_OUT,
    (S.ROLLING_OUT, K.REPORT): S.DONE,
    (S.DONE, K.ACCEPT): S.ROLLING_OUT,
    (S.DONE, K.DECIDE_APPROVE): S.APPROVED,
    (S.DONE, K.DECIDE_REJECT): S.REJECTED,
    (S.VERIFIED, K.DECIDE_SKIP): S.PRODUCTION,
    (S.APPROVED, K.GRACE_OVER): S.PRODUCTION,
    (S.PRODUCTION, K.WITHDRAW): S.WITHDRAWN,
    (S.CERTIFIED, K.OBSOLETE): S.OBSOLETED,
    (S.INGEST_FAILED, K.OBSOLETE): S.OBSOLETED,
    (S.UNVERIFIED, K.OBSOLETE): S.OBSOLETED,
    (S.VERIFIED, K.OBSOLETE): S.OBSOLETED,
    (S.ROLLING_OUT, K.OBSOLETE): S.OBSOLETED,
    (S.DONE, K.OBSOLETE): S.OBSOLETED,
    (S.APPROVED, K.OBSOLETE): S.OBSOLETED,
}

# Events that wait, rather than being refused, when they arrive early: the steps merged before the
# packages were ingested (the history replay already checked their order) take effect once they are.
_WAITING = (K.VERIFY, K.REJECT_VERIFY, K.ACCEPT, K.REPORT, K.DECIDE_APPROVE, K.DECIDE_REJECT, K.DECIDE_SKIP)
DEFERRED = {(state, kind) for state in (S.CERTIFIED, S.INGEST_FAILED) for kind in _WAITING}

NEEDS = {
    K.VERIFY: "the packages ingested into Unverified",
    K.REJECT_VERIFY: "the packages ingested into Unverified",
    K.ACCEPT: "a verified release (verification.yaml with result verified)",
    K.REPORT: "an accepted rollout",
    K.DECIDE_APPROVE: "every accepting early adopter's report with status done",
    K.DECIDE_REJECT: "every accepting early adopter's report with status done",
    K.DECIDE_SKIP: "a verified emergency release that asked to skip staged rollout",
    K.WITHDRAW: "a release in Production",
}

CHANNEL_OF = {
    S.UNVERIFIED: "unverified", S.VERIFIED: "staged-rollout", S.ROLLING_OUT: "staged-rollout",
    S.DONE: "staged-rollout", S.APPROVED: "staged-rollout", S.PRODUCTION: "production",
}

TERMINAL = {S.REJECTED, S.OBSOLETED, S.WITHDRAWN}


@dataclass
class Replay:
    state: State = S.CERTIFIED
    since: datetime | None = None
    history: list[tuple[Event, State]] = field(default_factory=list)
    accepted: dict[str, Event] = field(default_factory=dict)
    reported: dict[str, Event] = field(default_factory=dict)
    refused: list[Problem] = field(default_factory=list)


def replay(certified: datetime, events: list[Event], now: datetime) -> Replay:
    """Apply the events that happened by ``now``, in time order, through the table."""
    run = Replay(since=certified)
    waiting: list[Event] = []
    for event in sorted(events, key=lambda e: (e.at, _ORDER[e.kind])):
        if event.at > now:
            break
        if (run.state, event.kind) in DEFERRED:
            waiting.append(event)
            continue
        _apply(run, event)
        if run.state == S.UNVERIFIED and waiting:
            for held in waiting:
                _apply(run, Event(held.kind, event.at, held.path, held.author, held.site, held.detail))
            waiting.clear()
    return run


def grace_hours(files: ReleaseFiles, config: Config | None) -> float:
    if files.decision and files.decision.grace_working_days is not None and config:
        return files.decision.grace_working_days * config.calendar.day_hours
    return config.grace_period.hours if config else 0.0


def replay_release(files: ReleaseFiles, certified: datetime, events: list[Event], now: datetime,
                   config: Config | None) -> Replay:
    """Replay a release's events; an approval starts the grace period, whose end is an event too
    (appended to ``events``)."""
    run = replay(certified, events, now)
    decided = [e for e, s in run.history if e.kind == K.DECIDE_APPROVE]
    if decided and config is not None:
        over = add_working_hours(config.calendar, decided[0].at, grace_hours(files, config))
        events.append(Event(K.GRACE_OVER, over, detail="grace period"))
        run = replay(certified, events, now)
    return run


def _apply(run: Replay, event: Event) -> None:
    key = (run.state, event.kind)
    if event.kind == K.REPORT and event.site not in run.accepted:
        _refuse(run, event, "a report from a site that had not accepted")
        return
    if key not in TRANSITIONS:
        if event.kind in (K.INGEST, K.INGEST_FAIL, K.OBSOLETE):
            return  # facts about packages or newer releases; nothing to refuse
        _refuse(run, event, f"it needs {NEEDS.get(event.kind, 'an earlier step')}")
        return
    target = TRANSITIONS[key]
    if event.kind == K.ACCEPT:
        run.accepted.setdefault(event.site or "", event)
    if event.kind == K.REPORT:
        run.reported.setdefault(event.site or "", event)
        target = S.DONE if set(run.accepted) <= set(run.reported) else S.ROLLING_OUT
    if target != run.state:
        run.state, run.since = target, event.at
    run.history.append((event, target))


def _refuse(run: Replay, event: Event, why: str) -> None:
    run.refused.append(Problem(
        event.path, f"{event.kind.value} arrived while the release was {run.state.value}: {why}",
        _refusal_hint(run, event), rule="order"))


def _refusal_hint(run: Replay, event: Event) -> str:
    if event.kind in (K.DECIDE_APPROVE, K.DECIDE_REJECT):
        missing = sorted(set(run.accepted) - set(run.reported))
        if missing:
            return "wait for the reports of " + ", ".join(missing) + " before closing the rollout"
        return "an early adopter must accept and report first, or the emergency must ask to skip staged rollout"
    if event.kind == K.WITHDRAW:
        return "only a release in Production can be withdrawn; to stop an earlier one, reject it"
    return "remove the file and add it again once the step before it is merged"


# Same-instant events apply in lifecycle order (a squashed acceptance-and-report, for example).
_ORDER = {kind: i for i, kind in enumerate(
    [K.INGEST_FAIL, K.INGEST, K.VERIFY, K.REJECT_VERIFY, K.ACCEPT, K.REPORT, K.DECIDE_SKIP,
     K.DECIDE_APPROVE, K.DECIDE_REJECT, K.GRACE_OVER, K.OBSOLETE, K.WITHDRAW])}


def reachable_states() -> set[State]:
    """Every state the table can reach from CERTIFIED; a test walks the table with this."""
    seen, frontier = {S.CERTIFIED}, [S.CERTIFIED]
    while frontier:
        state = frontier.pop()
        for (source, _), target in TRANSITIONS.items():
            if source == state and target not in seen:
                seen.add(target)
                frontier.append(target)
    return seen
