"""What a channel says about its publications: its manifest (the content digest, the files, the
set-up it was made with, apt's Valid-Until), read back by the plan; and its history, the record of
every generation with the objects it names, from which garbage collection learns what to keep.

A generation is recorded before any of its objects is written, and the manifest after the roots:
a run stopped anywhere leaves every object it wrote named by a record, and publishes the same
content again next time, which changes nothing a client sees.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from controller.core.model import Channel
from controller.publish.target import Target

if TYPE_CHECKING:
    from controller.core.plan import Published

HISTORY_FORMAT = "generations-1"


def manifest_key(channel: Channel, snapshot: str = "") -> str:
    """``snapshot``: a dated snapshot's day, whose manifest is under its own label."""
    return f"{channel.value}-{snapshot}/manifest.json" if snapshot else f"{channel.value}/manifest.json"


def history_key(channel: Channel) -> str:
    return f"{channel.value}/generations.json"


def read_published(target: Target, channel: Channel, snapshot: str = "") -> Published | None:
    from controller.core.plan import Published  # here: the check that a run can stop reads only the keys

    raw = target.read(manifest_key(channel, snapshot))
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        until = datetime.fromisoformat(data["valid_until"]) if data.get("valid_until") else None
        return Published(data["digest"], {repo: set(files) for repo, files in data["files"].items()}, until,
                         data.get("setup", {}))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # unreadable: the channel is published again


@dataclass(frozen=True)
class Generation:
    at: datetime  # when it was published (the run's time)
    objects: tuple[str, ...]  # its write-once metadata: a yum generation's files, apt's by-hash indexes
    releases: tuple[str, ...]  # whose packages it names (their pool keys: History.packages)


@dataclass
class History:
    """A channel's generations, oldest first. ``complete``: every generation since the channel's
    first is recorded; otherwise only those since ``since`` (the history was started, or rebuilt,
    on a channel that had published before), and older, unrecorded ones may still be in use."""

    since: datetime
    complete: bool
    generations: list[Generation] = field(default_factory=list)
    packages: dict[str, list[str]] = field(default_factory=dict)  # release -> pool keys

    def pool_keys(self, generations: list[Generation]) -> set[str]:
        return {key for g in generations for release in g.releases for key in self.packages.get(release, ())}

    def keep_only(self, kept: list[Generation]) -> None:
        self.generations = [g for g in self.generations if g in kept]
        named = {release for g in self.generations for release in g.releases}
        self.packages = {release: keys for release, keys in self.packages.items() if release in named}

    def to_json(self) -> bytes:
        return (json.dumps({
            "format": HISTORY_FORMAT, "since": self.since.isoformat(), "complete": self.complete,
            "generations": [{"at": g.at.isoformat(), "objects": list(g.objects), "releases": list(g.releases)}
                            for g in self.generations],
            "packages": self.packages}, indent=1, sort_keys=True) + "\n").encode()


def read_history(target: Target, channel: Channel) -> History | None:
    """The channel's history; None when there is none or it cannot be read."""
    raw = target.read(history_key(channel))
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        if data["format"] != HISTORY_FORMAT:
            return None
        generations = [Generation(datetime.fromisoformat(g["at"]), tuple(map(str, g["objects"])),
                                  tuple(map(str, g["releases"]))) for g in data["generations"]]
        packages = {str(release): [str(k) for k in keys] for release, keys in data["packages"].items()}
        return History(datetime.fromisoformat(data["since"]), data["complete"] is True, generations, packages)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def record_generation(target: Target, channel: Channel, generation: Generation, packages: dict[str, list[str]],
                      now: datetime, notes: list[str]) -> None:
    """Add a generation to the channel's history before any of its objects is written."""
    history = read_history(target, channel)
    if history is None:
        damaged = target.read(history_key(channel)) is not None
        if damaged:
            notes.append(f"{history_key(channel)} was unreadable: started again; older generations are not "
                         "collected until the retention time has passed")
        # A channel published before its history began may have older generations in use.
        history = History(now, not damaged and target.read(manifest_key(channel)) is None)
    history.generations.append(generation)
    for release, keys in packages.items():
        history.packages[release] = sorted(set(history.packages.get(release, ())) | set(keys))
    target.write(history_key(channel), history.to_json())
