"""The publish target protocol: what every storage backend offers the publisher, and the order
in which a publication uses it so that an HTTP client never catches a switch half made.

A publication writes, in this order, and deletes nothing:
  1. write-once, content-addressed objects (pool files, hashed metadata, by-hash indexes, a yum
     generation's repodata): new keys only, readable as soon as they exist;
  2. mutable indexes found by name (client configurations, apt's Packages by name);
  3. the roots, last (a yum channel's metalink; apt's Release.gpg, Release, then InRelease):
     one write switches each client from the old generation to the new one.
Old objects go only in a later garbage collection, once no kept generation names them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Stored:
    key: str
    size: int
    modified: float  # seconds since the epoch


class Target(Protocol):
    """A place to publish to: a local directory (local.py) or an S3 bucket prefix (s3.py)."""

    description: str  # for messages: the directory or s3:// URL

    def list(self, prefix: str) -> dict[str, Stored]:
        """Every object whose key starts with ``prefix``."""

    def read(self, key: str) -> bytes | None:
        """The object's bytes, None when there is none."""

    def write(self, key: str, data: bytes, modified: float | None = None) -> None:
        """Create or replace an object in one step: readers see the old bytes or the new."""

    def write_once(self, items: dict[str, bytes]) -> None:
        """Create content-addressed objects; those already present are left as they are."""

    def upload(self, key: str, path: Path) -> None:
        """Create an object from a local file (package bytes), moving it when that is cheaper."""

    def download(self, key: str, path: Path) -> None:
        """Copy an object into a local file."""

    def local_path(self, key: str) -> str | None:
        """Where the object is on this machine's disk, when the target is a directory."""

    def create(self, key: str, data: bytes) -> bool:
        """Create the object only if there is none (If-None-Match: *); False when there was."""

    def copy(self, source: str, key: str) -> None:
        """Create ``key`` with the bytes of ``source`` (archiving; a hard link where it can be)."""

    def delete(self, keys: Iterable[str]) -> None:
        """Remove objects (garbage collection only, never during a publication)."""

    def flush(self) -> None:
        """Make what was written durable before anything written later names it."""


@dataclass
class Publication:
    """The objects of one publication, grouped by the order in which they must be written."""

    once: dict[str, bytes] = field(default_factory=dict)  # write-once, content addressed
    indexes: list[tuple[str, bytes]] = field(default_factory=list)  # mutable, found by name
    roots: list[tuple[str, bytes, float | None]] = field(default_factory=list)  # last, in order

    def add(self, other: Publication) -> None:
        self.once.update(other.once)
        self.indexes += other.indexes
        self.roots += other.roots

    def keys(self) -> set[str]:
        return set(self.once) | {key for key, _ in self.indexes} | {key for key, _, _ in self.roots}


def write_publication(target: Target, publication: Publication) -> None:
    """Write in the protocol's order; a stop between any two writes leaves every client able to
    read a whole, signed generation (the old one until its root is replaced)."""
    target.write_once(publication.once)
    target.flush()
    for key, data in publication.indexes:
        target.write(key, data)
    target.flush()
    for key, data, modified in publication.roots:
        target.write(key, data, modified)
    target.flush()


def open_target(spec: str | Path) -> Target:
    """A target from what the user wrote after --publish-dir: a directory or s3://BUCKET/PREFIX."""
    text = str(spec)
    if text.startswith("s3://"):
        from controller.publish.s3 import S3Target

        return S3Target.from_url(text)
    from controller.publish.local import LocalTarget

    return LocalTarget(Path(text))
