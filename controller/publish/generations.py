"""The published tree on disk: immutable generation directories, one symlink per channel switched
atomically, a manifest per generation, old generations kept a while, and the reconcile lock.

Layout of the publish directory:
    <channel>            -> generations/<channel>/<id>   (what clients read)
    generations/<channel>/<id>/manifest.json             (what the plan compares)
    pool/sha256/xx/<sha256>                              (package bytes, once)
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from controller.core.model import Channel
from controller.core.plan import Published
from controller.errors import Transient
from controller.publish.durable import sync_filesystem

KEEP = 3  # generations kept besides the current one ...
KEEP_FOR = timedelta(days=2)  # ... and any younger than this, for clients mid-download


def _name(tree: Channel | str) -> str:
    return tree.value if isinstance(tree, Channel) else tree


def channel_link(publish: Path, channel: Channel | str) -> Path:
    """The symlink clients read: a channel's, or another published tree's such as the site."""
    return publish / _name(channel)


def read_published(publish: Path, channel: Channel) -> Published | None:
    manifest = channel_link(publish, channel) / "manifest.json"
    if not manifest.is_file():
        return None
    data = json.loads(manifest.read_text())
    until = datetime.fromisoformat(data["valid_until"]) if data.get("valid_until") else None
    return Published(data["digest"], {repo: set(files) for repo, files in data["files"].items()}, until,
                     data.get("setup", {}))


def new_generation(publish: Path, channel: Channel | str, digest: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    path = publish / "generations" / _name(channel) / f"{stamp}-{digest[:12]}"
    path.mkdir(parents=True)
    return path


def switch(publish: Path, channel: Channel | str, generation: Path) -> None:
    """Point the channel at the generation in one rename: readers see the old tree or the new."""
    sync_filesystem(generation)  # the whole generation is on disk before anyone can see it
    link = channel_link(publish, channel)
    if link.exists() and not link.is_symlink():
        raise Transient(f"{link} is a directory, not the channel symlink", "move it away; reconcile manages it")
    tmp = publish / f".{_name(channel)}.switch"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(os.path.relpath(generation, publish), tmp)
    os.replace(tmp, link)
    fd = os.open(publish, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)


def prune(publish: Path, channel: Channel | str, now: float | None = None) -> list[Path]:
    """Remove old generations and half-written ones left by an interrupted run."""
    folder = publish / "generations" / _name(channel)
    if not folder.is_dir():
        return []
    link = channel_link(publish, channel)
    current = link.resolve() if link.is_symlink() else None
    now = now if now is not None else time.time()
    olds = sorted((p for p in folder.iterdir() if p.resolve() != current), key=lambda p: p.name, reverse=True)
    removed = []
    for rank, path in enumerate(olds):
        finished = (path / "manifest.json").is_file()
        young = now - path.stat().st_mtime < KEEP_FOR.total_seconds()
        newer_than_current = current is not None and path.name > current.name
        if finished and (rank < KEEP or young) and not newer_than_current:
            continue
        shutil.rmtree(path)
        removed.append(path)
    return removed


@contextmanager
def locked(state: Path, wait: float) -> Iterator[None]:
    """One reconcile at a time per publish tree; a second waits up to ``wait`` seconds."""
    state.mkdir(parents=True, exist_ok=True)
    with open(state / "reconcile.lock", "w") as handle:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise Transient("another reconcile is running on this publish directory",
                                    "wait for it to finish, or pass --wait SECONDS to queue behind it") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
