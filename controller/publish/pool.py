"""The package pool: every package's bytes stored once, named by their sha256.

A file enters the pool only through ``admit``, after its size and digest were checked, by an
atomic rename; so a file in the pool is always whole and correct, and presence is proof. Channels
hardlink to pool files, so promoting a release copies no bytes.
"""

from __future__ import annotations

import os
from pathlib import Path

from controller.publish.durable import sync_filesystem


class Pool:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.incoming = self.root / "incoming"
        self._base = str(self.root / "sha256")

    def path(self, sha256: str) -> str:
        # A string, not a Path: publishing asks for tens of thousands of these.
        return f"{self._base}/{sha256[:2]}/{sha256}"

    def contents(self) -> set[str]:
        """Every sha256 in the pool, from one listing (cheaper than a stat per package)."""
        root = self.root / "sha256"
        if not root.is_dir():
            return set()
        return {entry.name for folder in os.scandir(root) if folder.is_dir() for entry in os.scandir(folder.path)}

    def partial(self, sha256: str) -> Path:
        """Where a download in progress lives, kept across runs so it can resume."""
        self.incoming.mkdir(parents=True, exist_ok=True)
        return self.incoming / f"{sha256}.part"

    def admit(self, staged: Path, sha256: str, durable: bool = True) -> Path:
        """Move checked bytes into place. Callers admitting many files pass durable=False and
        call sync() once before the renames become visible to anything that trusts them."""
        target = Path(self.path(sha256))
        target.parent.mkdir(parents=True, exist_ok=True)
        if durable:
            with open(staged, "rb") as f:
                os.fsync(f.fileno())
        os.chmod(staged, 0o444)
        os.replace(staged, target)
        return target

    def sync(self) -> None:
        if self.root.exists():
            sync_filesystem(self.root)

