"""The outbox and its ledger: every due message is sent once. A message enters the outbox when a
run first sees it due, and leaves only when the mail server accepted it (recorded in the ledger),
so a server that is down loses nothing: the next run sends what is still waiting.

A message first seen long after its event (a new deployment reading years of history) is recorded
as skipped instead of being sent late. Runs never overlap (reconcile's lock), so no message is
sent twice by two runs at once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from controller.core.messages import Message
from controller.errors import Transient

STALE = timedelta(days=7)


@dataclass
class Ledger:
    sent: dict[str, str] = field(default_factory=dict)  # key -> when
    pending: dict[str, str] = field(default_factory=dict)  # key -> first seen
    skipped: dict[str, str] = field(default_factory=dict)  # key -> why


def select(ledger: Ledger, due: list[Message], now: datetime) -> tuple[list[Message], list[Message]]:
    """(to send now, to record as skipped). Pure."""
    send, skip = [], []
    for message in due:
        if message.key in ledger.sent or message.key in ledger.skipped:
            continue
        if message.key not in ledger.pending and now - message.event_at > STALE:
            skip.append(message)
        else:
            send.append(message)
    return send, skip


def _path(state: Path) -> Path:
    return state / "notifications.json"


def read_ledger(state: Path) -> Ledger:
    path = _path(state)
    return Ledger(**json.loads(path.read_text())) if path.is_file() else Ledger()


def _write(state: Path, ledger: Ledger) -> None:
    path = _path(state)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(ledger.__dict__, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def deliver(state: Path, due: list[Message], now: datetime, render: Callable[[Message], str],
            connect: Callable[[], object]) -> tuple[list[str], str]:
    """Send what is due and not yet sent; return (keys sent, a note when the server failed)."""
    ledger = read_ledger(state)
    send, skip = select(ledger, due, now)
    for message in skip:
        ledger.skipped[message.key] = f"first due {message.event_at.isoformat()}, seen {now.isoformat()}: stale"
    for message in send:
        ledger.pending.setdefault(message.key, now.isoformat())
    if skip or send:
        _write(state, ledger)
    if not send:
        return [], ""
    sent, note = [], ""
    try:
        mailer = connect()
    except Transient as exc:
        return [], exc.message
    try:
        for message in send:
            try:
                mailer.send(message.key, message.recipients, message.subject, render(message))
            except Transient as exc:
                note = exc.message
                break
            ledger.sent[message.key] = now.isoformat()
            ledger.pending.pop(message.key, None)
            _write(state, ledger)  # at once: a crash after this cannot send it again
            sent.append(message.key)
    finally:
        mailer.close()
    return sent, note
