"""What a run remembers between runs, and where.

In the target's private state area (shared by every runner, so a CI job on an empty disk carries
on where the last one stopped): ingestion failures, the outbox's ledger, the throwaway signing
key. In the local state directory (a cache: lose it and the next run is only slower): the parse
cache, metadata blocks, the record of the last run and the journal of the current one.
A damaged or missing object is a cache miss or is rebuilt, with a note; never a crash.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime
from pathlib import Path

from controller.core import schemacheck as schemas
from controller.publish.local import LocalTarget
from controller.publish.target import Target

MEMO_FORMAT = "documents-1"


def write_json_if_changed(path: Path, data: object) -> bool:
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    if path.is_file() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return True


# --- ingestion failures ------------------------------------------------------------------------


FAILURES = "ingest-failures.json"


def _as_store(store) -> Target:
    return LocalTarget(Path(store)) if isinstance(store, (str, Path)) else store


def read_failures(store, notes: list[str] | None = None) -> dict[str, dict]:
    """release -> {"reason", "at"}; a damaged record is dropped (the fetches are retried anyway)."""
    raw = _as_store(store).read(FAILURES)
    if raw is None:
        return {}
    try:
        found = json.loads(raw)
        if isinstance(found, dict) and all(isinstance(v, dict) and isinstance(v.get("reason"), str)
                                           and datetime.fromisoformat(v["at"]) for v in found.values()):
            return found
    except (ValueError, TypeError, KeyError):
        pass
    if notes is not None:
        notes.append(f"{FAILURES} in the state area was unreadable: rebuilt by retrying every failed fetch")
    return {}


def write_failures(store, failures: dict[str, dict]) -> None:
    store = _as_store(store)
    text = (json.dumps(failures, indent=2, sort_keys=True) + "\n").encode()
    current = store.read(FAILURES)
    if current != text and (failures or current is not None):
        store.write(FAILURES, text)


# --- the parse cache ---------------------------------------------------------------------------


def _memo_file(state: Path) -> Path:
    return state / "cache" / "documents.json"


def _memo_version() -> str:
    """Parse results stay valid while the schemas and the reader are the same."""
    return hashlib.sha256(f"{MEMO_FORMAT}:{schemas.schemas_digest()}".encode()).hexdigest()


def load_memo(state: Path) -> dict:
    path = _memo_file(state)
    if not path.is_file():
        return {}
    try:
        stored = json.loads(path.read_text())
        if stored.get("version") != _memo_version():
            return {}
        return {key: tuple(value) for key, value in stored["entries"].items()}
    except (ValueError, TypeError, AttributeError, KeyError, UnicodeDecodeError):
        return {}  # a damaged cache is only a slower run


def save_memo(state: Path, memo: dict, known: int) -> None:
    """Store the cache when this run parsed something new (``known``: entries it started with)."""
    if len(memo) == known:
        return
    path = _memo_file(state)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({"version": _memo_version(), "entries": memo}, separators=(",", ":")))
    os.replace(tmp, path)


# --- the last run ------------------------------------------------------------------------------


def last_run_file(state: Path) -> Path:
    return state / "last-reconcile.json"


def read_last_run(state: Path) -> dict | None:
    path = last_run_file(state)
    try:
        found = json.loads(path.read_text()) if path.is_file() else None
    except (ValueError, UnicodeDecodeError):
        return None  # damaged: this run cannot skip, and records itself again
    return found if isinstance(found, dict) else None


def write_last_run(state: Path, record: dict) -> None:
    write_json_if_changed(last_run_file(state), record)


# --- the journal of the current run ------------------------------------------------------------


def journal_file(state: Path) -> Path:
    return state / "journal.json"


class Journal:
    """Each step of the plan as apply finishes it, written at once: after a crash it says how far
    the run got (the next run plans again from what is published, so nothing depends on it)."""

    def __init__(self, state: Path, started: str, commit: str, renew=lambda: None):
        self.path = journal_file(state)
        self.record = {"started": started, "commit": commit, "steps": []}
        self.renew = renew  # each step also keeps the lease on the target alive

    def done(self, step: str, result: str = "done") -> None:
        self.record["steps"].append({"step": step, "result": result})
        write_json_if_changed(self.path, self.record)
        self.renew()
