"""Where every release stands and why: rules, lifecycle replay, timers and who acts next.

Pure: the model, the ingestion outcomes and ``now`` in; statuses and findings out. This is what
`validate` and `status` print, and what the publishing side will turn into channel contents.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from controller.core import installability
from controller.core.freeze import FREEZES_FILE, Freeze, hold_for_freezes, read_freezes, with_days_off
from controller.core.gates import Runs, cadence_findings, hold_for_cadence, obsolete, production_at
from controller.core.installability import Installability, Verdict
from controller.core.lifecycle import CHANNEL_OF, Replay, grace_hours, replay, replay_release
from controller.core.model import Config, ReleaseFiles, State, World
from controller.core.policy import GATES, Context, evaluate_rules
from controller.core.redaction import redact
from controller.core.timeline import Event, Kind, SnapshotTrail, file_events
from controller.core.workdays import add_working_hours
from controller.errors import Problem


@dataclass(frozen=True)
class Ingest:
    """What fetching a release's packages gave: ok, or the reason it failed."""

    ok: bool
    at: datetime
    reason: str = ""


@dataclass(frozen=True)
class Timer:
    name: str
    started: datetime
    deadline: datetime
    finished: datetime | None

    def is_overdue(self, now: datetime) -> bool:
        return (self.finished or now) > self.deadline


@dataclass(frozen=True)
class ReleaseStatus:
    key: str
    state: State
    since: datetime | None
    channel: str | None
    waiting_for: str
    next_actor: str
    timers: tuple[Timer, ...]
    findings: tuple[Problem, ...]
    history: tuple[tuple[Event, State], ...] = ()
    production_at: datetime | None = None
    held_until: datetime | None = None  # the cadence holds it before Production until then
    gated: str = ""  # why it is published to no channel (a gating rule's finding), "" if it is not
    freeze: str = ""  # the freeze that holds it before Production, "" if none does
    installability: Verdict | None = None  # the installability check, where the controller runs it


@dataclass(frozen=True)
class Assessment:
    statuses: dict[str, ReleaseStatus]
    findings: list[Problem] = field(default_factory=list)
    next_change: datetime | None = None  # the earliest later instant at which a state moves by time
    freezes: tuple[Freeze, ...] = ()  # the freeze windows in force by now


def assess(world: World, now: datetime, ingest: Mapping[str, Ingest],
           pending: frozenset[str] = frozenset(), problems: list[Problem] | None = None,
           rules: tuple[list[Problem], set[str]] | None = None, gate: Installability | None = None,
           components: set[str] | None = None) -> Assessment:
    """``rules``: the policy findings and excluded files of this world, when already evaluated
    (they do not depend on ingestion or the clock, so a second assessment can reuse them).
    ``gate``: the installability results, where the controller checks them (None: no check).
    ``components``: only their releases are replayed (a pull request's check, which asks for
    nothing about the others; the rules look at their releases and at every release's packages)."""
    scope = None if components is None else frozenset(components)
    findings, excluded = rules if rules is not None else evaluate_rules(Context(world, pending, scope))
    findings = list(findings)
    findings = list(problems or []) + findings
    trail = SnapshotTrail(world.snapshot, pending)
    freezes, found = read_freezes(world.snapshot, world.config, now, trail.landed_at)
    findings += found
    config = with_days_off(world.config, freezes, now)  # freezes that stop timers are days off
    gated = {_release_key(p.file): p.message for p in findings if p.rule in GATES and _release_key(p.file)}
    runs: Runs = {}
    verdicts: dict[str, Verdict | None] = {}
    for key, files in world.releases.items():
        if components is not None and key.split("/", 1)[0] not in components:
            continue
        certified, events = file_events(files, trail, excluded)
        if certified is not None and certified > now:
            continue  # merged after ``now``: at that time the release did not exist yet
        if certified is None:
            if files.release is None and (files.verification or files.reports or files.decision):
                findings.append(Problem(f"releases/{key}/", "files for a release that has no valid release.yaml",
                                        "the provider's release.yaml must be merged first", rule="order"))
            continue
        outcome = ingest.get(key)
        if outcome is not None and key not in gated:  # a gated release is never fetched or published
            events.append(Event(Kind.INGEST if outcome.ok else Kind.INGEST_FAIL, max(outcome.at, certified),
                                detail=outcome.reason))
        events, refused, verdicts[key] = installability.judge(files, events, gate)
        findings += refused
        runs[key] = (certified, events, replay_release(files, certified, events, now, config))
    findings += _future_dated(world, trail, now)
    held = hold_for_cadence(world, runs, now, config)
    frozen = _hold_for_freezes(world, runs, now, freezes)
    obsolete(runs, now)
    statuses = {}
    for key, (certified, _, run) in runs.items():
        findings += run.refused
        files = world.releases[key]
        own = [p for p in findings if p.file.startswith(f"releases/{key}/")]
        status = _status(files, certified, run, now, config, ingest.get(key), own, verdicts.get(key))
        if key in held and now < held[key]:
            status = replace(status, held_until=held[key], waiting_for=f"the cadence limit: the previous "
                             f"{files.release.category.value} release of {files.release.component} reached "
                             f"Production recently; this one is held until {held[key]:%Y-%m-%d %H:%M} UTC",
                             next_actor="nobody: it moves to Production by itself then")
        if key in frozen and status.state in (State.VERIFIED, State.APPROVED) \
                and (frozen[key].end is None or now < frozen[key].end):
            freeze = frozen[key]
            # The grace period itself is over when it ends: the wait is the freeze's, not late.
            timers = tuple(replace(t, finished=t.deadline) if t.name == "grace period" and t.finished is None
                           and t.deadline <= now else t for t in status.timers)
            status = replace(status, held_until=freeze.end, freeze=freeze.name, timers=timers,
                             waiting_for=f"held by the freeze {freeze.name} until {freeze.until_text()} "
                             f"({freeze.reason})",
                             next_actor="nobody: it moves to Production by itself then" if freeze.end else
                             f"staged-rollout managers (lift the freeze in {FREEZES_FILE})")
        if key in gated:
            status = replace(status, channel=None, timers=(), gated=gated[key],
                             waiting_for=f"a release that fits the distribution ({gated[key]}); this one is "
                             "published to no channel", next_actor="provider (submit a new version)")
        statuses[key] = status
    findings += cadence_findings(world, {k: c for k, (c, _, _) in runs.items()},
                                 {k: s.production_at for k, s in statuses.items() if s.production_at}, held)
    upcoming = [e.at for _, events, _ in runs.values() for e in events if e.at > now]
    # A deadline passing (someone must be told) and an embargo ending (a release becomes public)
    # are changes in time too.
    upcoming += [t.deadline for s in statuses.values() for t in s.timers if t.finished is None and t.deadline > now]
    upcoming += [f.release.security.embargo_until for f in world.releases.values()
                 if f.release and f.release.security and f.release.security.embargo_until
                 and f.release.security.embargo_until > now]
    return Assessment(statuses, findings, min(upcoming, default=None), freezes)


def _hold_for_freezes(world: World, runs: Runs, now: datetime, freezes: tuple[Freeze, ...]) -> dict[str, Freeze]:
    """Hold every release whose way into Production falls in a freeze; key -> the freeze."""
    frozen = {}
    for key, (certified, events, _) in runs.items() if freezes else ():
        release = world.releases[key].release
        freeze = hold_for_freezes(release, events, freezes) if release is not None else None
        if freeze is not None:
            runs[key] = (certified, events, replay(certified, events, now))
            frozen[key] = freeze
    return frozen


def _release_key(path: str) -> str | None:
    parts = path.split("/")
    return f"{parts[1]}/{parts[2]}" if parts[0] == "releases" and len(parts) >= 4 else None


def _future_dated(world: World, trail: SnapshotTrail, now: datetime) -> list[Problem]:
    """Changes that landed with a date after ``now`` count only from that date: say so, rather than
    leave a release silently waiting for a clock that was set wrong."""
    found, seen = [], set()
    for path, touches in sorted(world.snapshot.history.items()):
        if path not in world.snapshot.files:
            continue
        for touch in touches:
            at = trail.landed_at(touch)
            if at > now and (touch.landed.id, path) not in seen:
                seen.add((touch.landed.id, path))
                found.append(Problem(path, f"commit {touch.landed.short} is dated {at:%Y-%m-%d %H:%M} UTC, after now "
                                     f"({now:%Y-%m-%d %H:%M} UTC): what it changes counts only from then",
                                     "check the clock of the machine that made the commit; a commit cannot be "
                                     "redated once merged, so commit the change again with the right date",
                                     rule="future-date"))
    return found


_ACTORS = {
    State.CERTIFIED: ("ingestion of the packages into Unverified", "repository managers (rolloutctl reconcile)"),
    State.INGEST_FAILED: ("a successful fetch with matching checksums", "provider (fix the package or manifest)"),
    State.UNVERIFIED: ("verification of the release information", "technology unit (verification.yaml)"),
    State.VERIFIED: ("an early adopter to accept the rollout", "early adopters of the stack (reports/<site>.yaml)"),
    State.ROLLING_OUT: ("reports from every accepting early adopter", "accepting early adopters"),
    State.DONE: ("the closing decision", "staged-rollout managers (decision.yaml)"),
    State.APPROVED: ("the end of the grace period", "nobody: it moves to Production by itself"),
    State.PRODUCTION: ("nothing", "nobody"),
    State.REJECTED: ("nothing: rejected", "provider (submit a new version)"),
    State.OBSOLETED: ("nothing: a newer version reached Production", "nobody"),
    State.WITHDRAWN: ("nothing: withdrawn", "nobody"),
}


def _status(files: ReleaseFiles, certified: datetime, run: Replay, now: datetime, config: Config | None,
            ingest: Ingest | None, findings: list[Problem], verdict: Verdict | None = None) -> ReleaseStatus:
    waiting, actor = _ACTORS[run.state]
    if run.state == State.INGEST_FAILED and ingest is not None:
        waiting = f"{waiting} (last failure: {redact(ingest.reason)})"
    if run.state == State.UNVERIFIED and files.verification and verdict and verdict.state in ("pending", "failed"):
        waiting, actor = installability.HELD[verdict.state]
    if run.state == State.ROLLING_OUT:
        missing = sorted(set(run.accepted) - set(run.reported))
        actor = "early adopters " + ", ".join(missing)
    timers = _timers(files, certified, run, config) if config else ()
    return ReleaseStatus(files.key, run.state, run.since, CHANNEL_OF.get(run.state), waiting, actor, timers,
                         tuple(findings), tuple(run.history), production_at(run), installability=verdict)


def _timers(files: ReleaseFiles, certified: datetime, run: Replay, config: Config) -> tuple[Timer, ...]:
    """Table 3's steps, the acceptance window and the grace period, with their deadlines."""
    cal = config.calendar
    limits = config.timelines[files.release.category] if files.release else None
    first = {}
    for event, state in run.history:
        first.setdefault(event.kind, event.at)
        first.setdefault(state, event.at)
    timers = []

    def timer(name: str, start: datetime | None, hours: float, end: datetime | None) -> None:
        if start is not None:
            timers.append(Timer(name, start, add_working_hours(cal, start, hours), end))

    if limits is None:
        return ()
    ingested = first.get(Kind.INGEST)
    verified = first.get(State.VERIFIED)
    decided = first.get(State.APPROVED) or first.get(Kind.DECIDE_REJECT) or first.get(Kind.DECIDE_SKIP)
    timer("step 1: ingestion", certified, limits.ingestion.hours, ingested)
    timer("step 2: verification", ingested, limits.verification.hours,
          first.get(Kind.VERIFY) or first.get(Kind.REJECT_VERIFY))
    if files.release and not files.release.skip_staged_rollout:
        timer("acceptance window", verified, config.acceptance_window.hours, first.get(Kind.ACCEPT))
    timer("step 3: staged rollout", verified, limits.rollout.hours, decided)
    timer("grace period", first.get(State.APPROVED), grace_hours(files, config), first.get(State.PRODUCTION))
    return tuple(timers)

