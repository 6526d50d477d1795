"""The dated events of each release, read from the git history in the snapshot.

An event is a file landing on the branch (its first-parent commit's time) written by some author.
Pure: works on the accepted touches the history replay recorded; decides nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from controller.core.model import Category, Commit, ReleaseFiles, Snapshot, Touch


class Kind(enum.Enum):
    INGEST = "ingested"
    INGEST_FAIL = "ingest failed"
    VERIFY = "verification: verified"
    REJECT_VERIFY = "verification: rejected"
    ACCEPT = "acceptance"
    REPORT = "report"
    DECIDE_APPROVE = "decision: approve"
    DECIDE_REJECT = "decision: reject"
    DECIDE_SKIP = "decision: skip staged rollout"
    GRACE_OVER = "grace period over"
    WITHDRAW = "withdrawal"
    OBSOLETE = "obsoleted"


@dataclass(frozen=True)
class Event:
    kind: Kind
    at: datetime
    path: str = ""
    author: Commit | None = None
    site: str | None = None
    detail: str = ""


def landing(snapshot: Snapshot, path: str) -> Touch | None:
    """The touch that (last) created the path, or None when it does not exist at the head."""
    if path not in snapshot.files:
        return None
    created = None
    for touch in snapshot.touches(path):
        if touch.change == "A":
            created = touch
    return created


def landed_at(snapshot: Snapshot, touch: Touch, pending: frozenset[str]) -> datetime:
    """When a touch reached the branch; a pull request's own commits land at its head's time."""
    if touch.landed.id in pending:
        return snapshot.head.committer.time
    return touch.landed.committer.time


class Trail(Protocol):
    """Where the accepted versions of a release's files came from."""

    def landing(self, path: str) -> Touch | None: ...  # the accepted creation
    def reported(self, path: str) -> Touch | None: ...  # a report's first accepted version with status done
    def landed_at(self, touch: Touch) -> datetime: ...


@dataclass(frozen=True)
class SnapshotTrail:
    snapshot: Snapshot
    pending: frozenset[str] = frozenset()

    def landing(self, path: str) -> Touch | None:
        return landing(self.snapshot, path)

    def reported(self, path: str) -> Touch | None:
        return self.snapshot.reported.get(path) if path in self.snapshot.files else None

    def landed_at(self, touch: Touch) -> datetime:
        return landed_at(self.snapshot, touch, self.pending)


def file_events(files: ReleaseFiles, trail: Trail,
                excluded: Collection[str] = frozenset()) -> tuple[datetime | None, list[Event]]:
    """(certified time, the events of verification, reports, decision and withdrawal)."""
    counted = lambda p: p not in excluded  # noqa: E731
    release_touch = trail.landing(files.release.path) if files.release and counted(files.release.path) else None
    certified = trail.landed_at(release_touch) if release_touch else None
    events: list[Event] = []

    def add(kind: Kind, path: str, site: str | None = None, detail: str = "") -> None:
        touch = trail.landing(path)
        if touch is not None:
            events.append(Event(kind, trail.landed_at(touch), path, touch.commit, site, detail))

    if files.verification and counted(files.verification.path):
        add(Kind.VERIFY if files.verification.result == "verified" else Kind.REJECT_VERIFY, files.verification.path)
    for report in files.reports:
        if not counted(report.path):
            continue
        add(Kind.ACCEPT, report.path, report.site)
        done = trail.reported(report.path)
        if done is not None:
            events.append(Event(Kind.REPORT, trail.landed_at(done), report.path, done.commit, report.site,
                                report.result or ""))
    if files.decision and counted(files.decision.path):
        decision = files.decision
        # Skipping staged rollout needs both the provider's justified request and the managers'.
        skips = decision.skip_staged_rollout and files.release is not None and files.release.skip_staged_rollout \
            and files.release.category == Category.EMERGENCY
        kind = (Kind.DECIDE_REJECT if decision.outcome == "reject"
                else Kind.DECIDE_SKIP if skips else Kind.DECIDE_APPROVE)
        add(kind, decision.path, detail=decision.outcome)
    if files.withdrawal and counted(files.withdrawal.path):
        add(Kind.WITHDRAW, files.withdrawal.path)
    return certified, events
