"""Whether a reconcile can stop at once, and what a run reports.

The record of the last run (apply/state) says which commit it planned, until when its plan holds
and which publication it saw; a run stops at once when the commits since change nothing the model
reads, the time is still within that window and the channels are as it left them. This is every
scheduled run that finds nothing to do, so the check reads only what it needs and imports only what
it needs: neither the planner nor the writers are loaded for it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from controller.apply import state as remembered
from controller.core.model import PREFIXES, Channel
from controller.publish.generations import manifest_key
from controller.sources import git

if TYPE_CHECKING:
    from controller.publish.target import Target
    from controller.reconcile import Planned


@dataclass
class Outcome:
    plan: Planned | None  # None: the run saw at once that nothing could have changed
    fetched: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    notified: list[str] = field(default_factory=list)  # keys of the messages sent
    # What was done for embargoed releases, in counts: the fields above never name them.
    withheld: list[str] = field(default_factory=list)
    withheld_failures: int = 0  # embargoed releases whose ingestion failed
    # channel -> what its read-back found wrong ([] when it matched), for the channels read back
    self_check: dict[str, list[str]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.plan is not None and bool(self.fetched or self.plan.actions or self.plan.state_changes
                                              or self.plan.plan.moves or self.withheld)

    @property
    def failed(self) -> bool:
        return bool(self.failures or self.withheld_failures or self.self_check_failed)

    @property
    def self_check_failed(self) -> bool:
        return any(self.self_check.values())


def published_marker(target: Target, private_channel: Target | None) -> str:
    """Changes when any channel's manifest changes (another run published), or the private
    channel is configured, moved or changed. The pool is left out (listing it costs a stat per
    package): a run that admitted packages and published nothing either failed, and said so (the
    next run plans), or was stopped before it recorded anything; only a publication changes what
    the plan of the commit recorded here would be."""
    manifests = [hashlib.sha256(target.read(manifest_key(c)) or b"").hexdigest() for c in Channel]
    if private_channel is not None:
        from controller.core.public import PrivateChannel  # only with a private channel: the core's views

        manifests += [private_channel.description] + [
            hashlib.sha256(private_channel.read(manifest_key(c)) or b"").hexdigest() for c in PrivateChannel]
    return hashlib.sha256(json.dumps(manifests).encode()).hexdigest()


def stops_at_once(repo: str, rev: str, now: datetime, state: Path, target: Target, store: Target,
                  private_channel: Target | None) -> bool:
    """Whether a reconcile of ``rev`` at ``now`` can stop before it reads the repository. A
    target paired with another private area is refused first (nothing is written here)."""
    remembered.check_private_area(target, store, record=False)
    return nothing_changed(repo, rev, now, state, target, private_channel)


def nothing_changed(repo: str, rev: str, now: datetime, state: Path, target: Target,
                    private_channel: Target | None) -> bool:
    """Whether the plan of ``rev`` at ``now`` would be the one the last run recorded in ``state``
    carried out, so that this run can stop before reading the repository."""
    try:
        return _nothing_changed(repo, rev, now, state, target, private_channel)
    except (KeyError, TypeError, ValueError):
        return False  # a damaged record of the last run: plan as usual


def _nothing_changed(repo: str, rev: str, now: datetime, state: Path, target: Target,
                     private_channel: Target | None) -> bool:
    last = remembered.read_last_run(state)  # the cheap checks first: a small local file
    if last is None or last.get("pending_failures", True):
        return False
    if last["valid_until"] is not None and now >= datetime.fromisoformat(last["valid_until"]):
        return False
    if now < datetime.fromisoformat(last["now"]):
        return False  # replaying an earlier day
    if last.get("published") != published_marker(target, private_channel):
        return False
    # The same commit, or one whose history since adds nothing the model reads (a change to the
    # README, to the workflows): the plan would be the same.
    repository = git.open_repository(repo)
    return git.untouched_since(repository, last["commit"], git.resolve(repository, rev), PREFIXES)
