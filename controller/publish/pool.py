"""The package pool: every package's bytes stored once per target, named by their sha256 and
file name (pool/<sha256[:2]>/<sha256>/<file>), which every channel's metadata points into.

A file enters the pool only through ``admit``, after its size, digest and header were checked,
or from another pool that admitted it (``take``, ``copy_from``); so a file in the pool is always
whole and correct, and presence is proof of ingestion, as is a line in collected.json once
garbage collection took a dead release's file out. Promoting a release writes metadata only: no
package byte is copied.

The private pool has the same layout in the private area (never served): an embargoed release's
bytes wait there until its date, then are taken into the public pool without a second fetch.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from controller.publish.target import Target

PREFIX = "pool/"
COLLECTED = f"{PREFIX}collected.json"


def pool_key(sha256: str, filename: str) -> str:
    return f"{PREFIX}{sha256[:2]}/{sha256}/{filename}"


# An rpm is served as the copy signed with the repository's key, stored under its own sha256; an
# empty record beside where the provider's bytes would be names it, so that one listing tells
# both that the provider's package is held and which copy to serve:
# pool/<original[:2]>/<original>/<file>.signed.<sha256 of the signed copy>.<its size>
SIGNED = ".signed."


def signed_record_key(original: str, filename: str, signed: str, size: int) -> str:
    return pool_key(original, f"{filename}{SIGNED}{signed}.{size}")


class Pool:
    def __init__(self, target: Target, staging: Path):
        self.target = target
        self.staging = Path(staging)  # this machine's downloads in progress and cached copies
        self._incoming_made = False
        self._contents: dict[str, str] | None = None
        self._signed: dict[str, tuple[str, int]] = {}
        self._listed: list[str] = []  # every key, as last listed
        self._stored = False  # whether a package was stored through this object since

    def contents(self) -> dict[str, str]:
        """sha256 -> key of every package in the pool, from one listing (a provider's rpm is held
        when its signed copy is)."""
        if self._contents is None:
            self._contents, self._signed, self._listed = {}, {}, self._keys()
            for key in self._listed:
                if key.count("/") != 3:
                    continue
                sha256, name = key.split("/")[2:]
                self._contents[sha256] = key
                if SIGNED in name:
                    signed, size = name.rsplit(SIGNED, 1)[1].split(".")
                    self._signed[sha256] = (signed, int(size))
        return self._contents

    def _keys(self) -> list[str]:
        """Every key under pool/. On a directory, names only (the pool is content addressed, so a
        name says all a listing is needed for), and from a listing kept in staging for each
        package's directory whose modification time has not changed since."""
        root = self.target.local_path(PREFIX.rstrip("/"))
        if root is None:
            return list(self.target.list(PREFIX))
        kept = self.staging / "pool-listings" / f"{hashlib.sha256(root.encode()).hexdigest()[:24]}.json"
        return [PREFIX + path for path in _listing(root, kept)]

    def names(self) -> list[str] | None:
        """Every key under pool/ now, by name only (None where the target's own listing, with
        sizes, costs no more): the first listing while nothing was stored through this object;
        else listed again, which also keeps the new packages' directories for the next run."""
        if self.target.local_path(PREFIX.rstrip("/")) is None:
            return None
        self.contents()
        if self._stored:
            self._listed, self._stored = self._keys(), False
        return list(self._listed)

    def _hold(self, sha256: str, key: str) -> None:
        self.contents()[sha256] = key
        self._stored = True

    def signed_copies(self) -> dict[str, tuple[str, int]]:
        """The provider's sha256 -> (sha256, size) of the signed copy that channels serve."""
        self.contents()
        return self._signed

    def admit_signed(self, signed: Path, original: str, filename: str) -> tuple[str, int]:
        """Store the signed copy of the provider's package ``original`` (the file is consumed),
        then the record naming it; returns the copy's (sha256, size)."""
        digest = hashlib.sha256()
        with open(signed, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        digest, size = digest.hexdigest(), signed.stat().st_size
        self.admit(signed, digest, filename)
        self.target.write_once({signed_record_key(original, filename, digest, size): b""})
        self._hold(original, signed_record_key(original, filename, digest, size))
        self._signed[original] = (digest, size)
        return digest, size

    def partial(self, sha256: str) -> Path:
        """Where a download in progress lives, kept across runs on this machine to resume."""
        folder = self.staging / "incoming"
        if not self._incoming_made:  # once: this is asked for every package, several times
            folder.mkdir(parents=True, exist_ok=True)
            self._incoming_made = True
        return folder / f"{sha256}.part"

    def admit(self, staged: Path, sha256: str, filename: str) -> None:
        """Store checked bytes in the pool (the staged file is consumed)."""
        key = pool_key(sha256, filename)
        local = self.target.local_path(key)
        if local is None:  # keep a copy here: this run reads the header again to publish it
            cached = cached_copy(self.staging, sha256)
            cached.parent.mkdir(parents=True, exist_ok=True)
            cached.write_bytes(staged.read_bytes())
        self.target.upload(key, staged)
        self._hold(sha256, key)

    def take(self, other: Pool, sha256: str, filename: str) -> None:
        """Move checked bytes from ``other`` into this pool: a rename on one filesystem, else a
        copy (through this machine, from object storage) and a delete. Never a fetch."""
        key = pool_key(sha256, filename)
        source = other.target.local_path(key)
        if source is not None and self.target.local_path(key) is not None:
            self.target.upload(key, Path(source))  # moves the file (or drops it, if already here)
        else:
            self.copy_from(other, sha256, filename)
            other.target.delete([key])
        other.contents().pop(sha256, None)
        self._hold(sha256, key)

    def copy_from(self, other: Pool, sha256: str, filename: str) -> None:
        """Copy checked bytes from ``other`` into this pool (the private channel's pool is filled
        so); nothing happens when they are here already."""
        if sha256 in self.contents():
            return
        key = pool_key(sha256, filename)
        held = Path(other.reader()(sha256, filename))
        cached = cached_copy(self.staging, sha256)
        if self.target.local_path(key) is None and held != cached:  # as admit: kept to read its header
            cached.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(held, cached)
        staged = self.partial(sha256).with_suffix(".copy")
        shutil.copyfile(held, staged)
        self.target.upload(key, staged)
        self._hold(sha256, key)

    def reader(self) -> PoolReader:
        return PoolReader(self.target, self.staging)

    def sync(self) -> None:
        self.target.flush()


# A directory changed less than this long before it was listed may change again within the same
# tick of its modification time: its kept listing is not trusted (as git treats racy entries).
_SETTLED_NS = 2_000_000_000


def _listing(root: str, kept: Path) -> list[str]:
    """<xx>/<sha256>/<file> of every file in the pool at ``root``; dot names (writes in progress)
    are left out, as the target's listing leaves them out. A package's directory is read again
    only when its modification time differs from the one kept with its listing in ``kept``: a
    stat instead of opening and reading a directory per package."""
    try:
        known = json.loads(kept.read_text())
    except (OSError, ValueError):
        known = {}
    listed_at = known.get("listed_at", 0) if isinstance(known, dict) else 0
    before = known.get("dirs", {}) if isinstance(known, dict) else {}
    now, dirs, found = time.time_ns(), {}, []
    for xx in _names(root):
        for sha256 in _names(f"{root}/{xx}"):
            folder = f"{root}/{xx}/{sha256}"
            try:
                modified = os.stat(folder).st_mtime_ns
            except OSError:
                continue
            relative = f"{xx}/{sha256}"
            old = before.get(relative)
            if old is not None and old[0] == modified and modified < listed_at - _SETTLED_NS:
                names = old[1]
            else:
                names = _names(folder)
            dirs[relative] = [modified, names]
            found += [f"{relative}/{name}" for name in names]
    if dirs != before:
        kept.parent.mkdir(parents=True, exist_ok=True)
        partial = kept.with_name(f".{kept.name}.{os.getpid()}")
        partial.write_text(json.dumps({"listed_at": now, "dirs": dirs}))
        os.replace(partial, kept)
    return found


def _names(folder: str) -> list[str]:
    try:
        return sorted(name for name in os.listdir(folder) if not name.startswith("."))
    except (FileNotFoundError, NotADirectoryError):
        return []


def collected(target: Target) -> dict[str, dict]:
    """sha256 -> {release, file, at} of the packages garbage collection took out of the pool.
    They were ingested once, so their releases keep the state they reached (rejected, ...)."""
    raw = target.read(COLLECTED)
    try:
        found = json.loads(raw)["packages"] if raw is not None else {}
        return found if isinstance(found, dict) else {}
    except (ValueError, KeyError, TypeError):
        return {}  # unreadable: those releases are fetched again, then collected again


def record_collected(target: Target, packages: dict[str, dict]) -> None:
    """Add to the record; called before the files go, so that it never misses one."""
    found = collected(target)
    if packages.keys() - found.keys():
        found.update(packages)
        target.write(COLLECTED, (json.dumps({"packages": found}, indent=1, sort_keys=True) + "\n").encode())


def cached_copy(staging: Path, sha256: str) -> Path:
    return staging / "pool-cache" / sha256[:2] / sha256


@dataclass(frozen=True)
class PoolReader:
    """A local file holding a package's bytes, for reading its header. Small enough to hand to
    worker processes: it knows the target, not the pool's listing."""

    target: Target
    staging: Path

    def __call__(self, sha256: str, filename: str) -> str:
        key = pool_key(sha256, filename)
        local = self.target.local_path(key)
        if local is not None:
            return local
        cached = cached_copy(self.staging, sha256)
        if not cached.is_file():
            cached.parent.mkdir(parents=True, exist_ok=True)
            self.target.download(key, cached)
        return str(cached)


def held_packages(*locations) -> set[str]:
    """The sha256 of every package ingested into the pools of the targets named (the publish
    target and the private area, whose pool holds embargoed packages): there now, or collected."""
    from controller.publish.target import open_target

    # A staging directory of its own, thrown away: the pool's listing would be kept there, and
    # status must write nothing outside the places it was given.
    with tempfile.TemporaryDirectory(prefix="rolloutctl-pool-") as staging:
        targets = [open_target(where) for where in locations if where is not None]
        return {sha for target in targets
                for sha in [*Pool(target, Path(staging)).contents(), *collected(target)]}
