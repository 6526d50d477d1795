"""A publish target on the local filesystem: the directory a web server serves.

Every write goes to a temporary file renamed into place (readers see the old file or the new),
write-once objects are hardlinked or renamed rather than copied where the disk allows, and one
syncfs(2) per phase makes a batch durable before the next phase names it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from controller.publish.durable import sync_filesystem
from controller.publish.target import Stored


class LocalTarget:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.description = str(self.root)

    def _path(self, key: str) -> Path:
        return self.root / key

    def _tmp(self, path: Path) -> Path:
        return path.with_name(f".{path.name}.{os.urandom(4).hex()}.tmp")

    def list(self, prefix: str) -> dict[str, Stored]:
        found: dict[str, Stored] = {}
        head, _, start = prefix.rpartition("/")
        folder = self.root / head if head else self.root
        try:
            names = sorted(n for n in os.listdir(folder) if n.startswith(start) and not n.startswith("."))
        except (FileNotFoundError, NotADirectoryError):
            return found
        root = str(self.root) + "/"
        # Only the entries the prefix can name are walked (not every sibling of the folder).
        for name in names:
            entry = f"{folder}/{name}"
            walked = os.walk(entry) if os.path.isdir(entry) else [(str(folder), [], [name])]
            for dirpath, dirnames, filenames in walked:
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
                for file in filenames:
                    if file.startswith("."):
                        continue  # temporary files of writes in progress
                    path = f"{dirpath}/{file}"
                    info = os.stat(path)
                    key = path.removeprefix(root)
                    found[key] = Stored(key, info.st_size, info.st_mtime)
        return found

    def read(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def write(self, key: str, data: bytes, modified: float | None = None) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._tmp(path)
        tmp.write_bytes(data)
        if modified is not None:
            # Servers derive Last-Modified (and so If-Range answers) from mtime: make it the
            # metadata's date, or a client resuming a partial download could splice two together.
            os.utime(tmp, (modified, modified))
        os.replace(tmp, path)

    def write_once(self, items: dict[str, bytes]) -> None:
        for key, data in items.items():
            path = self._path(key)
            if path.exists():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._tmp(path)
            tmp.write_bytes(data)
            os.replace(tmp, path)

    def upload(self, key: str, path: Path) -> None:
        final = self._path(key)
        if final.exists():
            path.unlink()
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o444)
        try:
            os.replace(path, final)
        except OSError:  # another filesystem: copy beside, then rename
            tmp = self._tmp(final)
            shutil.copyfile(path, tmp)
            os.chmod(tmp, 0o444)
            os.replace(tmp, final)
            path.unlink()

    def download(self, key: str, path: Path) -> None:
        shutil.copyfile(self._path(key), path)

    def local_path(self, key: str) -> str | None:
        return str(self._path(key))

    def create(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._tmp(path)
        tmp.write_bytes(data)
        try:
            os.link(tmp, path)  # fails when the name exists: an atomic create
        except FileExistsError:
            return False
        finally:
            tmp.unlink()
        return True

    def copy(self, source: str, key: str) -> None:
        final = self._path(key)
        if final.exists():
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._tmp(final)
        try:
            os.link(self._path(source), tmp)
        except OSError:  # another filesystem, or no hard links here
            shutil.copyfile(self._path(source), tmp)
        os.replace(tmp, final)

    def delete(self, keys: Iterable[str]) -> None:
        folders = set()
        for key in keys:
            with contextlib.suppress(FileNotFoundError):
                self._path(key).unlink()
            folders.add(self._path(key).parent)
        # Directories left empty go too (a pool file's, a yum generation's), deepest first.
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
            while folder != self.root and folder.is_relative_to(self.root):
                try:
                    folder.rmdir()
                except OSError:
                    break  # not empty (or gone): its parents are not empty either
                folder = folder.parent

    def flush(self) -> None:
        if self.root.is_dir():
            sync_filesystem(self.root)
