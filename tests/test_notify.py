"""Notifications through a real SMTP server on loopback: each message once, to the right people,
nothing about an embargoed release to the wrong ones, and nothing lost while the server is down."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from conftest import commit_embargoed_unicore

from controller.core.messages import Message
from controller.errors import BadInput, Transient
from controller.notify import outbox
from controller.notify.mail import Mailer, SmtpSettings
from controller.reconcile import Options, reconcile

GLITE = "early-adopters-glite@lists.umd.example.org"
BROADCAST = "site-admins@lists.umd.example.org"
MANAGERS = {"maria.duarte@umd.example.org", "tomas.lind@umd.example.org"}


class Inbox:
    """A mailbox that can refuse addresses for good (550) and defer messages (451) by subject."""

    def __init__(self):
        self.messages = []
        self.raw: list[tuple[set[str], bytes]] = []  # (recipients, the message as received)
        self.gone: set[str] = set()  # addresses answered with 550
        self.defer: dict[str, int] = {}  # subject -> how many more times to answer 451

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.gone:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        parsed = message_from_bytes(envelope.content)
        if self.defer.get(parsed["Subject"], 0) > 0:
            self.defer[parsed["Subject"]] -= 1
            return "451 4.3.0 try again later"
        self.messages.append((parsed["Subject"], set(envelope.rcpt_tos), parsed.get_payload()))
        self.raw.append((set(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    def subjects(self):
        return [s for s, _, _ in self.messages]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The SMTP server; stop() and start() take it down and bring it back on the same port."""

    def __init__(self, inbox: Inbox):
        self.inbox, self.port, self.controller = inbox, free_port(), None

    def start(self):
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp():
    inbox = Inbox()
    server = Server(inbox)
    server.start()
    yield inbox, server, SmtpSettings("127.0.0.1", server.port, sender="rolloutctl@umd.example.org")
    server.stop()


def rev_at(repo, when: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "rev-list", "-1", f"--before={when}", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()


def run_at(repo, tmp_path, when: str, settings, rev: str | None = None):
    now = datetime.fromisoformat(when.replace("Z", "+00:00"))
    return reconcile(Options(str(repo), rev or rev_at(repo, when), now, tmp_path / "public", tmp_path / "state",
                             smtp=settings))


def test_the_example_driven_through_time_sends_each_message_once(example_repo, tmp_path, smtp):
    inbox, _, settings = smtp
    run_at(example_repo, tmp_path, "2026-10-06T11:00:00Z", settings)
    [(subject, to, body)] = inbox.messages
    assert subject == "[glite] argus 1.7.3 is ready for staged rollout" and to == {GLITE}
    assert "/staged-rollout/umd5-el9.repo" in body and "rolloutctl report-template argus/1.7.3" in body

    run_at(example_repo, tmp_path, "2026-10-15T10:00:00Z", settings)
    assert inbox.messages[-1][:2] == ("argus 1.7.3 is available in Production", {BROADCAST})

    run_at(example_repo, tmp_path, "2026-11-05T09:00:00Z", settings)
    reject = next(m for m in inbox.messages if m[0] == "ca-policy-egi/1.131: GRNET reports reject")
    assert reject[1] == MANAGERS | {"david.groep@igtf.example.org"}
    assert "CRL distribution point has a typo" in reject[2]

    run_at(example_repo, tmp_path, "2026-11-10T12:00:00Z", settings)
    head = "2026-11-24T12:00:00Z"
    run_at(example_repo, tmp_path, head, settings)
    overdue = {s: to for s, to, _ in inbox.messages if "overdue" in s}
    assert overdue == {"arc-ce/6.19.0: acceptance window is overdue": MANAGERS,
                       "argus/1.7.4: step 3: staged rollout is overdue": MANAGERS}
    assert "unicore-server 9.2.1 is available in Production" in inbox.subjects()

    count = len(inbox.messages)
    run_at(example_repo, tmp_path, head, settings)
    run_at(example_repo, tmp_path, "2026-11-24T12:05:00Z", settings)
    assert len(inbox.messages) == count  # however often reconcile runs
    assert len(inbox.subjects()) == len(set(inbox.subjects()))


def test_a_message_waits_in_the_outbox_while_the_server_is_down(example_repo, tmp_path, smtp):
    inbox, controller, settings = smtp
    controller.stop()
    down = run_at(example_repo, tmp_path, "2026-10-06T11:00:00Z", settings)
    assert down.notified == [] and any("outbox" in note for note in down.notes)
    controller.start()
    later = run_at(example_repo, tmp_path, "2026-10-06T12:00:00Z", settings)
    assert later.notified == ["verified:argus/1.7.3"]
    assert inbox.subjects() == ["[glite] argus 1.7.3 is ready for staged rollout"]


def test_old_history_is_not_mailed_on_a_first_run(example_repo, tmp_path, smtp):
    inbox, _, settings = smtp
    run_at(example_repo, tmp_path, "2026-11-24T12:00:00Z", settings)
    assert "argus 1.7.3 is available in Production" not in inbox.subjects()  # October: stale
    assert "[arc] arc-ce 6.19.0 is ready for staged rollout" in inbox.subjects()


def test_an_embargoed_release_is_announced_only_to_the_security_group(story, tmp_path, smtp):
    inbox, _, settings = smtp
    commit_embargoed_unicore(story, "2026-11-16")
    run_at(story.path, tmp_path, "2026-11-16T12:00:00Z", settings, rev="HEAD")
    [(subject, to, body)] = inbox.messages
    assert "unicore-server 9.2.1 is ready" in subject and to == {"sofia.rossi@security.example.org"}
    assert "EMBARGOED" in body and "/staged-rollout/" not in body
    run_at(story.path, tmp_path, "2026-11-20T12:30:00Z", settings, rev="HEAD")
    assert inbox.messages[-1][:2] == ("unicore-server 9.2.1 is available in Production", {BROADCAST})


NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def mails(*specs: tuple[str, str]) -> list[Message]:
    return [Message(f"test:{subject}", NOW, (to,), "", subject) for subject, to in specs]


def deliver(tmp_path, settings, due, **extra):
    return outbox.deliver(tmp_path / "state", due, NOW, lambda m: f"about {m.subject}\n", lambda: Mailer(settings),
                          tuple(sorted(MANAGERS)), **extra)


def test_a_refused_message_is_dead_lettered_once_and_holds_back_no_other(story, tmp_path, smtp):
    inbox, _, settings = smtp
    inbox.gone.add("left@grnet.example.org")
    due = mails(("one", "a@cesga.example.org"), ("two", "left@grnet.example.org"), ("three", "b@ifca.example.org"))
    sent, note = deliver(tmp_path, settings, due)
    assert sent == ["test:one", "test:three"] and "550" in note
    assert inbox.subjects() == ["one", "three", "1 rolloutctl message(s) could not be delivered"]
    _, to, body = inbox.messages[-1]
    assert to == MANAGERS and "two" in body and "left@grnet.example.org" in body and "550" in body
    [dead] = outbox.undelivered(tmp_path / "state")
    assert dead["key"] == "test:two" and dead["reported"] and "mailbox unavailable" in dead["reason"]

    # Later runs neither retry the refused message nor report it again; status shows it.
    assert deliver(tmp_path, settings, due) == ([], "")
    assert len(inbox.messages) == 3
    shown = subprocess.run([sys.executable, "-m", "controller", "--repo", str(story.path), "status", "--state-dir",
                            str(tmp_path / "state")], capture_output=True, text=True)
    assert "undelivered messages" in shown.stdout and "two to left@grnet.example.org: " in shown.stdout


def test_a_deferred_message_is_tried_again_after_the_others(tmp_path, smtp):
    inbox, _, settings = smtp
    inbox.defer["one"] = 1
    pauses = []
    sent, _ = deliver(tmp_path, settings, mails(("one", "a@x.example.org"), ("two", "b@x.example.org")),
                      attempts=3, backoff=0.01, sleep=pauses.append)
    assert inbox.subjects() == ["two", "one"] and sent == ["test:two", "test:one"]
    assert pauses == [0.01]


def test_a_message_deferred_on_every_try_waits_for_the_next_run(tmp_path, smtp):
    inbox, _, settings = smtp
    inbox.defer["one"] = 3
    due = mails(("one", "a@x.example.org"))
    sent, note = deliver(tmp_path, settings, due, attempts=2, backoff=0.01, sleep=lambda s: None)
    assert sent == [] and "451" in note and outbox.has_work(tmp_path / "state")
    assert deliver(tmp_path, settings, due, attempts=2, backoff=0.01, sleep=lambda s: None)[0] == ["test:one"]
    assert outbox.undelivered(tmp_path / "state") == []


def test_a_message_deferred_for_a_week_becomes_a_dead_letter(tmp_path, smtp):
    inbox, _, settings = smtp
    inbox.defer["one"] = 10
    due = mails(("one", "a@x.example.org"))
    outbox.deliver(tmp_path / "state", due, NOW, lambda m: "x\n", lambda: Mailer(settings), (), 1)
    later = NOW + timedelta(days=8)
    outbox.deliver(tmp_path / "state", due, later, lambda m: "x\n", lambda: Mailer(settings), (), 1)
    [dead] = outbox.undelivered(tmp_path / "state")
    assert dead["key"] == "test:one" and "451" in dead["reason"]


def test_a_server_that_never_answers_costs_the_connect_timeout(tmp_path):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts connections and never sends a greeting
    accepted = []
    threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True).start()
    settings = SmtpSettings("127.0.0.1", silent.getsockname()[1], connect_timeout=0.2)
    try:
        with pytest.raises(Transient, match="cannot reach the mail server"):
            Mailer(settings)
        sent, note = deliver(tmp_path, settings, mails(("one", "a@x.example.org")))
        assert sent == [] and "cannot reach" in note and outbox.has_work(tmp_path / "state")
    finally:
        silent.close()


@pytest.mark.parametrize("port, expected", [("", 25), (" ", 25), ("587", 587)])
def test_empty_smtp_variables_take_the_defaults(port, expected):
    settings = SmtpSettings.from_environment({"ROLLOUTCTL_SMTP_HOST": "mail.example.org",
                                              "ROLLOUTCTL_SMTP_PORT": port, "ROLLOUTCTL_SMTP_STARTTLS": "",
                                              "ROLLOUTCTL_SMTP_USER": "", "ROLLOUTCTL_SMTP_FROM": ""})
    assert settings.port == expected and settings.user is None and settings.sender == "rolloutctl@localhost"
    assert SmtpSettings.from_environment({"ROLLOUTCTL_SMTP_HOST": ""}) is None


def test_a_nonsense_smtp_port_names_the_variable():
    with pytest.raises(BadInput, match="ROLLOUTCTL_SMTP_PORT is 'twenty-five'"):
        SmtpSettings.from_environment({"ROLLOUTCTL_SMTP_HOST": "mail.example.org",
                                       "ROLLOUTCTL_SMTP_PORT": "twenty-five"})
