"""What a run remembers between runs: ingestion failures, the parse cache and the record of the
last run (which lets a run that cannot change anything stop at once). The one owner of those
files; the outbox keeps its own ledger beside them. A damaged file is a cache miss, never a crash.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from controller.core import schemacheck as schemas

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


def failures_file(state: Path) -> Path:
    return state / "ingest-failures.json"


def read_failures(state: Path) -> dict[str, dict]:
    path = failures_file(state)
    return json.loads(path.read_text()) if path.is_file() else {}


def write_failures(state: Path, failures: dict[str, dict]) -> None:
    if failures or failures_file(state).exists():
        write_json_if_changed(failures_file(state), failures)


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
    except ValueError:
        return {}  # a damaged cache is only a slower run
    if stored.get("version") != _memo_version():
        return {}
    return {key: tuple(value) for key, value in stored["entries"].items()}


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
    return json.loads(path.read_text()) if path.is_file() else None


def write_last_run(state: Path, record: dict) -> None:
    write_json_if_changed(last_run_file(state), record)


# --- the journal of the current run ------------------------------------------------------------


def journal_file(state: Path) -> Path:
    return state / "journal.json"


class Journal:
    """Each step of the plan as apply finishes it, written at once: after a crash it says how far
    the run got (the next run plans again from what is published, so nothing depends on it)."""

    def __init__(self, state: Path, started: str, commit: str):
        self.path = journal_file(state)
        self.record = {"started": started, "commit": commit, "steps": []}

    def done(self, step: str, result: str = "done") -> None:
        self.record["steps"].append({"step": step, "result": result})
        write_json_if_changed(self.path, self.record)
