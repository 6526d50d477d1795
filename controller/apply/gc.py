"""Garbage collection: after a publication, never during one, delete the write-once objects that no
kept generation names (a yum generation's repodata, apt's by-hash indexes, pool files), so that a
target does not grow forever while clients mid-download of a kept generation still find everything.

Kept, per channel: the newest ``generations``, and every generation superseded less than ``days``
ago (retention in repos-config/repositories.yaml). A pool file also stays while a release that is
not rejected, obsoleted or withdrawn names it. Whatever the current roots (a metalink, a Release or
InRelease) name is kept too, whatever the history says. While a channel's history does not yet
cover the retention time (it began on a channel that had published before), nothing is collected.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from controller.core.assess import Assessment
from controller.core.model import Channel, Retention, State, World
from controller.publish.generations import Generation, History, history_key, read_history
from controller.publish.pool import PREFIX, SIGNED, record_collected
from controller.publish.target import Stored, Target

GONE = (State.REJECTED, State.OBSOLETED, State.WITHDRAWN)
_CHANNELS = "|".join(re.escape(c.value) for c in Channel)
YUM_GENERATION = re.compile(rf"^(?:{_CHANNELS})/[^/]+/[0-9a-f]{{20}}/")  # <channel>/<repository>/<generation>/
BY_HASH = re.compile(rf"^dists/[^/]+-(?:{_CHANNELS})/.+/by-hash/")  # a live channel's suite, not a snapshot's
METALINK = re.compile(rf"^(?:{_CHANNELS})/[^/]+/metalink\.xml$")
APT_ROOT = re.compile(r"^dists/([^/]+)/(?:InRelease|Release)$")
_METALINK_URL = re.compile(rf"/((?:{_CHANNELS})/[^/]+/[0-9a-f]{{20}}/)repodata/repomd\.xml<")
_RELEASE_SUM = re.compile(r"^ ([0-9a-f]{64}) +\d+ (\S+)$", re.MULTILINE)


@dataclass
class Collection:
    """What a collection deletes (write-once metadata first, then pool files) and archives."""

    metadata: list[str] = field(default_factory=list)
    pool: list[str] = field(default_factory=list)
    archive: list[tuple[str, str]] = field(default_factory=list)  # (pool key, archive key)
    released: dict[str, str] = field(default_factory=dict)  # pool key -> release, for those of dead releases
    size: int = 0  # bytes freed
    waiting: str = ""  # why nothing is collected yet
    next_due: datetime | None = None  # when a retention time next runs out
    kept: dict[Channel, list[Generation]] = field(default_factory=dict)
    histories: dict[Channel, History] = field(default_factory=dict)

    @property
    def keys(self) -> list[str]:
        return self.metadata + self.pool

    def describe(self, done: bool = True) -> str:
        if self.waiting:
            return f"nothing collected yet: {self.waiting}"
        text = (f"{'deleted' if done else 'would delete'} {len(self.metadata)} metadata object(s) and "
                f"{len(self.pool)} pool file(s) that no kept generation names ({self.size / 1e6:.1f} MB)")
        return text + (f"; {len(self.archive)} withdrawn package(s) archived" if self.archive else "")


def kept_generations(history: History, now: datetime, retention: Retention) -> list[Generation]:
    """The newest ``retention.generations``, and those superseded less than ``retention.days`` ago
    (the current generation is never superseded)."""
    newest = history.generations[-retention.generations:]
    recent = recent_generations(history, now, retention)
    return [g for g in history.generations if g in newest or g in recent]


def recent_generations(history: History, now: datetime, retention: Retention) -> list[Generation]:
    """The current generation and those superseded less than ``retention.days`` ago."""
    found = history.generations
    cutoff = now - timedelta(days=retention.days)
    return [g for i, g in enumerate(found) if i == len(found) - 1 or found[i + 1].at > cutoff]


def next_expiry(history: History, now: datetime, retention: Retention) -> datetime | None:
    """When the next generation's retention time runs out (a collection may then free something)."""
    ends = [later.at + timedelta(days=retention.days) for later in history.generations[1:]]
    return min((end for end in ends if end > now), default=None)


def covers_retention(history: History, now: datetime, retention: Retention) -> bool:
    """True when no unrecorded generation can still be kept."""
    if history.complete:
        return True
    return now - history.since >= timedelta(days=retention.days) and len(history.generations) >= retention.generations


def release_packages(world: World, assessment: Assessment,
                     copies: dict[str, tuple[str, int]]) -> tuple[set[str], dict[str, tuple[str, State]]]:
    """(sha256 of the packages of releases still alive, sha256 -> (release, state) of those of
    rejected, obsoleted and withdrawn ones); an rpm's signed copy goes with it (``copies``: the
    provider's sha256 -> that of the copy channels serve)."""
    alive, gone = set(), {}
    for key, status in assessment.statuses.items():
        for package in world.releases[key].release.packages:
            digests = [package.sha256] + ([copies[package.sha256][0]] if package.sha256 in copies else [])
            for digest in digests:
                if status.state in GONE:
                    gone[digest] = (key, status.state)
                else:
                    alive.add(digest)
    return alive, {digest: found for digest, found in gone.items() if digest not in alive}  # shared bytes stay


def plan_collection(target: Target, retention: Retention, now: datetime, alive: set[str],
                    gone: dict[str, tuple[str, State]], pool_keys: Iterable[str] | None = None) -> Collection:
    """What a collection would delete now. Reads the target; changes nothing. Pool files are kept
    by sha256 (a package's directory, with the record of its signed copy).

    A package of a rejected, obsoleted or withdrawn release is kept only by the generations within
    the retention time: one kept by count alone, older than that, no longer serves it.
    ``pool_keys``: the pool's files as the pool listed them (then only the size of a file that
    goes is asked for), else the pool is listed here."""
    listing: dict[str, Stored] = {}
    if pool_keys is not None:
        listing.update((key, Stored(key, _UNKNOWN, 0.0)) for key in pool_keys)
    for prefix in (*([PREFIX] if pool_keys is None else []), "dists/", *(f"{c.value}/" for c in Channel)):
        listing.update(target.list(prefix))
    collection = Collection()
    for channel in Channel:
        history = read_history(target, channel)
        if history is None:
            if any(key.startswith(f"{channel.value}/") for key in listing):
                collection.waiting = f"{channel.value} has no readable generations.json yet"
            continue
        if not covers_retention(history, now, retention):
            collection.waiting = (f"the history of {channel.value} begins {history.since:%Y-%m-%d %H:%M}; older "
                                  f"generations may be in use until {retention.days:g} day(s) after that")
            collection.next_due = history.since + timedelta(days=retention.days)
        collection.histories[channel] = history
        collection.kept[channel] = kept_generations(history, now, retention)
        expiry = next_expiry(history, now, retention)
        if expiry is not None and (collection.next_due is None or expiry < collection.next_due):
            collection.next_due = expiry
    if collection.waiting:
        return collection
    named: set[str] = set()
    pool = set(alive)
    for channel, kept in collection.kept.items():
        history = collection.histories[channel]
        named.update(key for g in kept for key in g.objects)
        recent = {_digest(k) for k in history.pool_keys(recent_generations(history, now, retention))}
        pool |= {digest for key in history.pool_keys(kept) if (digest := _digest(key)) not in gone or digest in recent}
    named |= _named_by_roots(target, listing)
    pool |= _named_by_snapshots(target, listing)
    folders = {m.group(0) for key in named if (m := YUM_GENERATION.match(key))}
    for key, item in sorted(listing.items()):
        folder = YUM_GENERATION.match(key)
        if (folder and folder.group(0) not in folders) or (BY_HASH.match(key) and key not in named):
            collection.metadata.append(key)
        elif key.startswith(PREFIX) and key.count("/") == 3 and _digest(key) not in pool:
            collection.pool.append(key)
            release, state = gone.get(_digest(key), ("", None))
            if release:
                collection.released[key] = release
            name = key.rsplit("/", 1)[1]
            if retention.archive and state == State.WITHDRAWN and SIGNED not in name:
                collection.archive.append((key, f"{retention.archive}/{release}/{name}"))
        else:
            continue
        if item.size == _UNKNOWN:
            item = target.list(key).get(key, Stored(key, 0, 0.0))
        collection.size += item.size
    return collection


_UNKNOWN = -1  # the size of a pool file listed by name only


def _digest(key: str) -> str:
    """The sha256 a pool key is filed under."""
    return key.split("/")[2]


def _named_by_snapshots(target: Target, listing: dict[str, Stored]) -> set[str]:
    """The sha256 of every pool file a dated snapshot serves (its manifest names them by file name):
    a snapshot is kept whole, whatever became of its releases since. ``listing``: the pool's."""
    names = set()
    for channel in Channel:
        for key in target.list(f"{channel.value}-"):
            if key.count("/") == 1 and key.endswith("/manifest.json"):
                try:
                    files = json.loads(target.read(key) or b"{}").get("files", {})
                    names.update(name for listed in files.values() for name in listed)
                except (ValueError, AttributeError, TypeError):
                    continue  # unreadable: the snapshot is published again, whole, by the next run
    if not names:
        return set()
    return {_digest(key) for key in listing if key.startswith(PREFIX) and key.count("/") == 3
            and key.rsplit("/", 1)[1] in names}


def _named_by_roots(target: Target, listing: dict[str, Stored]) -> set[str]:
    """What the current roots name, so that a generation whose record was lost is still kept."""
    named = set()
    for key in listing:
        if METALINK.match(key):
            found = _METALINK_URL.search((target.read(key) or b"").decode(errors="replace"))
            if found:
                named.add(found.group(1))
        elif root := APT_ROOT.match(key):
            text = (target.read(key) or b"").decode(errors="replace")
            for digest, path in _RELEASE_SUM.findall(text):
                folder = path.rsplit("/", 1)[0] if "/" in path else ""
                named.add(f"dists/{root.group(1)}/{folder}/by-hash/SHA256/{digest}".replace("//", "/"))
    return named


def collect(target: Target, collection: Collection, now: datetime, renew=lambda: None) -> None:
    """Archive, then delete metadata, then pool files; then forget the generations no longer kept."""
    if collection.waiting:
        return
    for source, archived in collection.archive:
        target.copy(source, archived)
    # Whether a release was ingested is read from the pool: say which files left it and why.
    record_collected(target, {key.split("/")[2]: {"release": release, "file": key.rsplit("/", 1)[1],
                                                  "at": now.isoformat()}
                              for key, release in collection.released.items()})
    target.flush()
    renew()
    target.delete(collection.metadata)
    target.delete(collection.pool)
    target.flush()
    renew()
    for channel, history in collection.histories.items():
        before = history.to_json()
        history.keep_only(collection.kept[channel])
        if history.to_json() != before:
            target.write(history_key(channel), history.to_json())
