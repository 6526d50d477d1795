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

from controller.errors import BadInput
from controller.publish.local import LocalTarget
from controller.publish.target import Target, open_target

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


# --- where the state is kept ------------------------------------------------------------------


def state_store(publish: Path | str, private: Path | str | None) -> Target:
    """The private area's state: ingestion failures, the outbox's ledger, the throwaway key."""
    return open_target(join(private_location(publish, private), "state"))


def private_location(publish: Path | str, private: Path | str | None) -> Path | str:
    """``private`` (--private-dir), or by default a directory beside a local publish directory."""
    if private is not None:
        return private
    if str(publish).startswith("s3://"):
        raise BadInput(f"publishing to {publish} needs --private-dir: an S3 location the public cannot read",
                       "it keeps the notification ledger, ingestion failures and the throwaway key; e.g. "
                       "--private-dir s3://BUCKET-private/PREFIX (see docs/publishing.md)")
    publish = Path(publish).absolute()
    return publish.parent / f".{publish.name}-private"


def join(location: Path | str, name: str) -> Path | str:
    return f"{str(location).rstrip('/')}/{name}" if str(location).startswith("s3://") else Path(location) / name


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
    from controller.core import schemacheck as schemas  # here: a run that stops at once reads no schema

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


# --- the publish target's private area ---------------------------------------------------------


PAIRED = ".rolloutctl-private-area.json"  # on the publish target: the private area it belongs to
AREA = "area.json"  # in the private area's state: that area's identity


def _identity(raw: bytes | None, field: str) -> str | None:
    try:
        found = json.loads(raw) if raw is not None else None
    except ValueError:
        return None
    return found[field] if isinstance(found, dict) and isinstance(found.get(field), str) else None


def check_private_area(target: Target, store: Target, record: bool = True) -> None:
    """A publish target belongs to one private area: its notification ledger, its throwaway key,
    its pool of embargoed packages. Another area would sign with another key and count every
    message as new, so it is refused. The first run on a target records the pairing (as does a
    run on a target that published before pairings were recorded, or whose record was damaged);
    with ``record`` False (before the lease is held) nothing is written, a mismatch still refused."""
    area = _identity(store.read(AREA), "id")
    paired = _identity(target.read(PAIRED), "private_area")
    if paired is not None and area is None and store.list(""):
        area = paired  # the area has state but lost its identity file (damaged or removed): it is this one
        if record:
            store.write(AREA, (json.dumps({"id": area}) + "\n").encode())
    if paired is not None and paired != area:
        raise BadInput(f"{target.description} belongs to another private area than {store.description}",
                       "pass the --private-dir that has published there (its state/area.json has the id "
                       f"{paired}); a run with another private area would sign with another key and mail "
                       "again what was sent")
    if not record:
        return
    if area is None:
        import uuid  # here: made once per private area; the module costs every run that stops at once

        area = uuid.uuid4().hex
        store.write(AREA, (json.dumps({"id": area}) + "\n").encode())
    if paired is None:
        target.write(PAIRED, (json.dumps({"private_area": area}) + "\n").encode())
