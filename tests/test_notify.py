"""Notifications through a real SMTP server on loopback: each message once, to the right people,
nothing about an embargoed release to the wrong ones, and nothing lost while the server is down."""

from __future__ import annotations

import socket
import subprocess
from datetime import datetime
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from conftest import commit_embargoed_unicore

from controller.notify.mail import SmtpSettings
from controller.reconcile import Options, reconcile

GLITE = "early-adopters-glite@lists.umd.example.org"
BROADCAST = "site-admins@lists.umd.example.org"
MANAGERS = {"maria.duarte@umd.example.org", "tomas.lind@umd.example.org"}


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        parsed = message_from_bytes(envelope.content)
        self.messages.append((parsed["Subject"], set(envelope.rcpt_tos), parsed.get_payload()))
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
