"""The package pool: every package's bytes stored once per target, named by their sha256 and
file name (pool/<sha256[:2]>/<sha256>/<file>), which every channel's metadata points into.

A file enters the pool only through ``admit``, after its size, digest and header were checked;
so a file in the pool is always whole and correct, and presence is proof. Promoting a release
writes metadata only: no package byte is copied.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from controller.publish.target import Target

PREFIX = "pool/"


def pool_key(sha256: str, filename: str) -> str:
    return f"{PREFIX}{sha256[:2]}/{sha256}/{filename}"


class Pool:
    def __init__(self, target: Target, staging: Path):
        self.target = target
        self.staging = Path(staging)  # this machine's downloads in progress and cached copies
        self._contents: dict[str, str] | None = None

    def contents(self) -> dict[str, str]:
        """sha256 -> key of every package in the pool, from one listing."""
        if self._contents is None:
            self._contents = {key.split("/")[2]: key for key in self.target.list(PREFIX) if key.count("/") == 3}
        return self._contents

    def partial(self, sha256: str) -> Path:
        """Where a download in progress lives, kept across runs on this machine to resume."""
        folder = self.staging / "incoming"
        folder.mkdir(parents=True, exist_ok=True)
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
        self.contents()[sha256] = key

    def reader(self) -> PoolReader:
        return PoolReader(self.target, self.staging)

    def sync(self) -> None:
        self.target.flush()


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


def held_packages(publish) -> set[str]:
    """The sha256 of every package in the pool of the target named by ``publish``."""
    from controller.publish.target import open_target

    return set(Pool(open_target(publish), Path("/nonexistent")).contents())
