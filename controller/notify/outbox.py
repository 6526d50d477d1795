"""The outbox and its ledger: every due message is sent once. A message enters the outbox when a
run first sees it due, and leaves only when the mail server accepted it (recorded in the ledger),
so a server that is down loses nothing: the next run sends what is still waiting.

A message first seen long after its event (a new deployment reading years of history) is recorded
as skipped instead of being sent late. Runs never overlap (reconcile's lock), so no message is
sent twice by two runs at once.

One message never holds back another: a message the server refuses for good (5xx), or that it
kept deferring for a week, goes to the dead letters, which `status` shows and which are reported
once to the staged-rollout managers; a deferred one (4xx, a timeout, a dropped connection) is
tried again after the others, with a growing pause, and then by the next run.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from controller.core.messages import Message
from controller.errors import Transient
from controller.notify.mail import Rejected

STALE = timedelta(days=7)
DEAD_LETTER_REPORT = "dead-letters:"  # the key prefix of the managers' report (never dead-lettered in turn)


@dataclass
class Ledger:
    sent: dict[str, str] = field(default_factory=dict)  # key -> when
    pending: dict[str, str] = field(default_factory=dict)  # key -> first seen
    skipped: dict[str, str] = field(default_factory=dict)  # key -> why
    # key -> {"subject", "recipients", "reason", "at", "reported"}: given up on, for a person to see
    dead: dict[str, dict] = field(default_factory=dict)
    deferred: dict[str, str] = field(default_factory=dict)  # key -> the last temporary failure


def select(ledger: Ledger, due: list[Message], now: datetime) -> tuple[list[Message], list[Message]]:
    """(to send now, to record as skipped). Pure."""
    send, skip = [], []
    for message in due:
        if message.key in ledger.sent or message.key in ledger.skipped or message.key in ledger.dead:
            continue
        if message.key not in ledger.pending and now - message.event_at > STALE:
            skip.append(message)
        else:
            send.append(message)
    return send, skip


LEDGER = "notifications.json"


def _store(state):
    """Where the ledger lives: a publish target's state area (anything with read and write), or a
    local directory."""
    if isinstance(state, (str, Path)):
        from controller.publish.local import LocalTarget

        return LocalTarget(Path(state))
    return state


def is_damaged(state) -> bool:
    """Whether a ledger exists that cannot be read (empty, garbage, the wrong shape)."""
    raw = _store(state).read(LEDGER)
    if raw is None:
        return False
    try:
        Ledger(**json.loads(raw))
    except (ValueError, TypeError):
        return True
    return False


def read_ledger(state) -> Ledger:
    raw = _store(state).read(LEDGER)
    if raw is None:
        return Ledger()
    try:
        return Ledger(**json.loads(raw))
    except (ValueError, TypeError):
        return Ledger()  # damaged: the caller rebuilds it (see is_damaged)


def has_work(state: Path) -> bool:
    """Whether the next run has something to send: a message waiting, or dead letters to report."""
    ledger = read_ledger(state)
    return bool(ledger.pending) or any(not entry["reported"] for entry in ledger.dead.values())


def undelivered(state: Path, withhold: bool = False) -> list[dict]:
    """The dead letters, oldest first, each with its key: what `status` shows (``withhold``: with
    those about embargoed releases told without their details)."""
    found = sorted(({"key": key, **entry} for key, entry in read_ledger(state).dead.items()),
                   key=lambda entry: (entry["at"], entry["key"]))
    return withhold_restricted(found) if withhold else found


def withhold_restricted(entries: list[dict]) -> list[dict]:
    """Dead letters as the managers and a public log may read them: a message about an embargoed
    release says only that it exists."""
    return [{**entry, "key": "withheld", "subject": "a message about an embargoed release (details withheld)",
             "recipients": ["the security group or committed early adopters"],
             "reason": "details withheld; rolloutctl status --show-embargoed shows them"}
            if entry.get("restricted") else entry for entry in entries]


def _write(state, ledger: Ledger) -> None:
    _store(state).write(LEDGER, (json.dumps(ledger.__dict__, indent=2, sort_keys=True) + "\n").encode())


write_ledger = _write


class _Unreachable(Transient):
    """No connection to the mail server: trying the next message at once is pointless."""


class _Session:
    """The connection to the mail server, opened when first needed and again after it dropped."""

    def __init__(self, connect: Callable[[], object]):
        self.connect, self.mailer = connect, None

    def send(self, message: Message, body: str) -> dict[str, str]:
        if self.mailer is None:
            try:
                self.mailer = self.connect()
            except Transient as exc:
                raise _Unreachable(exc.message, exc.hint) from None
        try:
            return self.mailer.send(message.key, message.recipients, message.subject, body)
        except Transient:
            self.close()  # the session may be broken: the next message starts a new one
            raise

    def close(self) -> None:
        if self.mailer is not None:
            self.mailer.close()
            self.mailer = None


def deliver(state: Path, due: list[Message], now: datetime, render: Callable[[Message], str],
            connect: Callable[[], object], managers: tuple[str, ...] = (), attempts: int = 3,
            backoff: float = 2.0, sleep: Callable[[float], None] = time.sleep) -> tuple[list[str], str]:
    """Send what is due and not yet sent; return (keys sent, a note when something could not be).

    Each message is tried up to ``attempts`` times, after the others, pausing ``backoff`` seconds
    and then twice as long each round; what still fails waits for the next run."""
    ledger = read_ledger(state)
    send, skip = select(ledger, due, now)
    for message in skip:
        ledger.skipped[message.key] = f"first due {message.event_at.isoformat()}, seen {now.isoformat()}: stale"
    for message in send:
        ledger.pending.setdefault(message.key, now.isoformat())
    if skip or send:
        _write(state, ledger)
    session = _Session(connect)
    sent, notes = [], []
    try:
        queue = send
        for attempt in range(attempts):
            if attempt:
                sleep(backoff * 2 ** (attempt - 1))
            queue, unreachable = _round(session, queue, ledger, state, now, render, sent, notes)
            if not queue or unreachable:
                break
        for message in queue:
            _give_up_if_stale(ledger, message, now)
        _write(state, ledger)
        _report_dead_letters(session, ledger, state, now, managers, notes)
    finally:
        session.close()
    return sent, "; ".join(dict.fromkeys(notes))


def _round(session: _Session, queue: list[Message], ledger: Ledger, state: Path, now: datetime, render,
           sent: list[str], notes: list[str]) -> tuple[list[Message], bool]:
    """One try of every message in ``queue``; returns (those to try again, whether the server was
    out of reach, when trying again at once is pointless)."""
    again = []
    for index, message in enumerate(queue):
        try:
            refused = session.send(message, render(message))
        except Rejected as exc:
            _bury(ledger, message, exc.message, now)
            notes.append(f"undeliverable: {exc.message}")
        except _Unreachable as exc:
            notes.append(exc.message)
            return again + queue[index:], True
        except Transient as exc:
            ledger.deferred[message.key] = exc.message
            notes.append(exc.message)
            again.append(message)
        else:
            ledger.sent[message.key] = now.isoformat()
            ledger.pending.pop(message.key, None)
            ledger.deferred.pop(message.key, None)
            if refused:  # taken for the others: the refused addresses are a dead letter of their own
                reason = "; ".join(f"{address}: {reply}" for address, reply in sorted(refused.items()))
                _bury(ledger, replace(message, key=f"{message.key}:refused", recipients=tuple(sorted(refused))),
                      reason, now)
            sent.append(message.key)
        _write(state, ledger)  # at once: a crash after this cannot send it again
    return again, False


def _bury(ledger: Ledger, message: Message, reason: str, now: datetime) -> None:
    ledger.dead[message.key] = {"subject": message.subject, "recipients": list(message.recipients),
                                "reason": reason, "at": now.isoformat(),
                                "reported": message.key.startswith(DEAD_LETTER_REPORT),
                                "restricted": message.restricted}
    ledger.pending.pop(message.key, None)
    ledger.deferred.pop(message.key, None)


def _give_up_if_stale(ledger: Ledger, message: Message, now: datetime) -> None:
    first = ledger.pending.get(message.key)
    if first is not None and now - datetime.fromisoformat(first) > STALE:
        _bury(ledger, message, f"deferred since {first}: {ledger.deferred.get(message.key, 'no answer')}", now)


def _report_dead_letters(session: _Session, ledger: Ledger, state: Path, now: datetime,
                         managers: tuple[str, ...], notes: list[str]) -> None:
    """One message to the managers naming the dead letters not reported yet."""
    new = sorted(key for key, entry in ledger.dead.items() if not entry["reported"])
    if not new or not managers:
        return
    lines = [f"{len(new)} message(s) could not be delivered and will not be retried:", ""]
    for entry in withhold_restricted([ledger.dead[key] for key in new]):
        lines += [f"- {entry['subject']}", f"  to: {', '.join(entry['recipients'])}", f"  why: {entry['reason']}"]
    lines += ["", "Fix the addresses (repos-config/roles.yaml, adopters/, the mailing lists); `rolloutctl status "
              "--state-dir DIR` lists every undelivered message."]
    report = Message(DEAD_LETTER_REPORT + hashlib.sha256("\n".join(new).encode()).hexdigest()[:16], now, managers,
                     "", f"{len(new)} rolloutctl message(s) could not be delivered")
    try:
        session.send(report, "\n".join(lines) + "\n")
    except Rejected as exc:
        notes.append(f"the report of undelivered messages was refused too: {exc.message}")
    except Transient as exc:
        notes.append(exc.message)
        return  # reported by the next run
    for key in new:
        ledger.dead[key]["reported"] = True
    _write(state, ledger)
