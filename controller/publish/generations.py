"""What a channel says about its publication (its manifest: the content digest, the files, the
set-up it was made with, apt's Valid-Until), read back by the plan; and the reconcile lock.

The manifest is written after the channel's roots: a run stopped before it publishes the same
content again next time, which changes nothing a client sees.
"""

from __future__ import annotations

import fcntl
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from controller.core.model import Channel
from controller.core.plan import Published
from controller.errors import Transient
from controller.publish.target import Target


def manifest_key(channel: Channel, snapshot: str = "") -> str:
    """``snapshot``: a dated snapshot's day, whose manifest is under its own label."""
    return f"{channel.value}-{snapshot}/manifest.json" if snapshot else f"{channel.value}/manifest.json"


def read_published(target: Target, channel: Channel, snapshot: str = "") -> Published | None:
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
