"""The history replay's state and the parse results, kept between runs under the git directory.

A run resumes the replay from the newest kept commit on its branch's first-parent history and
replays only what landed since (see core/history.py, whose state is plain data). A cache: a
missing, damaged or outdated file is a miss (the history is replayed from the root), and nothing is
kept where the directory cannot be written. Files are named by commit id and by a fingerprint of
the code and schemas that computed them, so a changed rule never reads an old verdict.

The files are pickles, but read by an unpickler that builds nothing except plain data, dates and
the model's own dataclasses and enums (whose constructors only store values): the directory can
come from elsewhere (a CI cache restored by a job that a pull request from a fork could have
written, a copied clone), and a pickle that names any other callable, the usual way to run code
from one, is refused and read as a miss. Forged content of the allowed kinds can at worst make a
check report what a forger chose, as a forged cache of any format could: do not restore a cache
that less trusted jobs write into the job that decides.
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
from dataclasses import is_dataclass, replace
from enum import Enum
from functools import cache
from pathlib import Path

from controller.core.history import Trail
from controller.core.schemacheck import schemas_digest

FORMAT = b"replay-1"
KEEP = 4  # replay states kept: the branch head and the bases of a few pull requests
MEMO = "parsed"


@cache
def fingerprint() -> str:
    """Changes whenever the code that computes the kept state or the shipped schemas do."""
    digest = hashlib.sha256(FORMAT + schemas_digest().encode())
    root = Path(__file__).resolve().parent.parent
    for path in sorted([*root.glob("core/*.py"), root / "sources/git.py", root / "sources/treediff.py"]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _name(commit: str) -> str:
    return f"{commit}.{fingerprint()}.replay"


def commits(folder: Path) -> set[str]:
    """The commits whose replay state is kept (for the current code)."""
    suffix = f".{fingerprint()}.replay"
    try:
        return {name.removesuffix(suffix) for name in os.listdir(folder) if name.endswith(suffix)}
    except OSError:
        return set()


def load_trail(folder: Path, commit: str) -> Trail | None:
    found = _load(folder / _name(commit))
    return found if isinstance(found, Trail) else None


def save_trail(folder: Path, commit: str, trail: Trail) -> None:
    """Keep the state after ``commit``; the oldest beyond KEEP are removed."""
    if not _save(folder / _name(commit), replace(trail, _roster=None, _config=None)):
        return
    try:
        kept = sorted(folder.glob("*.replay"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kept[KEEP:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass


def load_memo(folder: Path) -> dict:
    found = _load(folder / f"{MEMO}.{fingerprint()}.memo")
    return found if isinstance(found, dict) else {}


def save_memo(folder: Path, memo: dict, known: int) -> None:
    """Keep the parse results when the run added some (``known``: how many it started with)."""
    if len(memo) != known and _save(folder / f"{MEMO}.{fingerprint()}.memo", memo):
        for old in folder.glob(f"{MEMO}.*.memo"):
            if old.name != f"{MEMO}.{fingerprint()}.memo":
                old.unlink(missing_ok=True)


_MODULES = ("controller.core.model", "controller.core.history", "controller.errors")
_PLAIN = {("datetime", "datetime"), ("datetime", "date"), ("datetime", "timezone"), ("datetime", "timedelta"),
          ("builtins", "set"), ("builtins", "frozenset")}


class _PlainUnpickler(pickle.Unpickler):
    """Builds only what a kept state holds (see the module's docstring)."""

    def find_class(self, module: str, name: str) -> type:
        if (module, name) in _PLAIN:
            return super().find_class(module, name)
        if module in _MODULES and not name.startswith("_"):
            found = super().find_class(module, name)
            if isinstance(found, type) and (is_dataclass(found) or issubclass(found, Enum)):
                return found
        raise pickle.UnpicklingError(f"{module}.{name} is not something a kept state holds")


def _load(path: Path) -> object:
    # Hundreds of thousands of objects that live until the process ends: the collector would
    # walk them while they are built and again at every later collection, for nothing.
    gc.disable()
    try:
        with path.open("rb") as stream:
            return _PlainUnpickler(stream).load()
    except Exception:  # noqa: BLE001 - a damaged or unreadable cache is a miss, whatever the damage
        return None
    finally:
        gc.freeze()
        gc.enable()


def _save(path: Path, value: object) -> bool:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("wb") as stream:
            pickle.dump(value, stream, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        return True
    except OSError:
        tmp.unlink(missing_ok=True) if tmp.parent.is_dir() else None
        return False
