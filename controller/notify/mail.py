"""Delivering messages over SMTP. The only smtplib user.

Settings come from the environment (ROLLOUTCTL_SMTP_HOST, _PORT, _STARTTLS, _USER, _PASSWORD,
_FROM); without a host, notifications are off. The Message-ID is derived from the message's key,
so a copy sent twice (a run killed between delivery and the ledger) can be recognized as one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from controller.errors import Transient


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    starttls: bool = False
    user: str | None = None
    password: str | None = None
    sender: str = "rolloutctl@localhost"

    @classmethod
    def from_environment(cls, env: dict | None = None) -> SmtpSettings | None:
        env = os.environ if env is None else env
        host = env.get("ROLLOUTCTL_SMTP_HOST")
        if not host:
            return None
        return cls(host, int(env.get("ROLLOUTCTL_SMTP_PORT", "25")),
                   env.get("ROLLOUTCTL_SMTP_STARTTLS", "0") in ("1", "true", "yes"),
                   env.get("ROLLOUTCTL_SMTP_USER"), env.get("ROLLOUTCTL_SMTP_PASSWORD"),
                   env.get("ROLLOUTCTL_SMTP_FROM", "rolloutctl@localhost"))


class Mailer:
    """One SMTP session for a run's messages."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        try:
            self.smtp = smtplib.SMTP(settings.host, settings.port, timeout=30)
            if settings.starttls:
                self.smtp.starttls(context=ssl.create_default_context())
            if settings.user:
                self.smtp.login(settings.user, settings.password or "")
        except (OSError, smtplib.SMTPException) as exc:
            raise Transient(f"cannot reach the mail server {settings.host}:{settings.port}: {exc}",
                            "messages stay in the outbox and are sent by the next reconcile") from None

    def send(self, key: str, recipients: tuple[str, ...], subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.settings.sender
        message["To"] = ", ".join(recipients)
        message["Subject"] = subject
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@rolloutctl>"
        message.set_content(body)
        try:
            self.smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise Transient(f"the mail server refused {subject!r}: {exc}", "it is retried next run") from None

    def close(self) -> None:
        with contextlib.suppress(OSError, smtplib.SMTPException):
            self.smtp.quit()
