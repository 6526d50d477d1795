"""Delivering messages over SMTP. The only smtplib user.

Settings come from the environment (ROLLOUTCTL_SMTP_HOST, _PORT, _STARTTLS, _USER, _PASSWORD,
_FROM); without a host, notifications are off. The Message-ID is derived from the message's key,
so a copy sent twice (a run killed between delivery and the ledger) can be recognized as one.

The server's answer decides what happens to a message: a 5xx reply is permanent (``Rejected``:
retrying would get the same answer), a 4xx reply, a timeout or a dropped connection is
``Transient``. Connecting and every read have their own timeout, so a silent server costs seconds.
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

from controller.errors import BadInput, ControllerError, Transient

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


class Rejected(ControllerError):
    """The mail server refused the message for good (a 5xx reply)."""

    exit_code = 1


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    starttls: bool = False
    user: str | None = None
    password: str | None = None
    sender: str = "rolloutctl@localhost"
    connect_timeout: float = 10.0  # seconds to open the connection and read the greeting
    read_timeout: float = 60.0  # seconds for any later reply (DATA on a slow server takes a while)
    attempts: int = 3  # tries of a message within one run; then it waits for the next run
    backoff: float = 2.0  # seconds before the second try, doubled for each later one

    @classmethod
    def from_environment(cls, env: dict | None = None) -> SmtpSettings | None:
        """The settings, or None without a host. Unset and empty variables take the defaults (a CI
        system passes an unset variable as an empty one); a value that makes no sense is BadInput."""
        env = os.environ if env is None else env

        def get(name: str) -> str:
            return env.get(f"ROLLOUTCTL_SMTP_{name}", "").strip()

        host = get("HOST")
        if not host:
            return None
        port = get("PORT") or "25"
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise BadInput(f"ROLLOUTCTL_SMTP_PORT is {port!r}, not a port number",
                           "set it to the mail server's port (25, 587) or leave it empty for 25")
        starttls = get("STARTTLS").lower()
        if starttls not in _TRUE + _FALSE:
            raise BadInput(f"ROLLOUTCTL_SMTP_STARTTLS is {starttls!r}", "set it to 1 or 0 (or leave it empty)")
        return cls(host, int(port), starttls in _TRUE, get("USER") or None, env.get("ROLLOUTCTL_SMTP_PASSWORD") or None,
                   get("FROM") or "rolloutctl@localhost")


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def _reply(exc: smtplib.SMTPException) -> tuple[int, str]:
    """The code and text of a server's reply carried by ``exc`` (0 when it carries none)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        # Every recipient refused: permanent only if every refusal is (one 4xx may pass later).
        code, text = min(exc.recipients.values(), key=lambda reply: reply[0])
        return code, f"{', '.join(sorted(exc.recipients))}: {_text(text)}"
    return getattr(exc, "smtp_code", 0), _text(getattr(exc, "smtp_error", b""))


class Mailer:
    """One SMTP session for a run's messages."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        where = f"{settings.host}:{settings.port}"
        try:
            self.smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.connect_timeout)
            self.smtp.sock.settimeout(settings.read_timeout)
            if settings.starttls:
                self.smtp.starttls(context=ssl.create_default_context())
            if settings.user:
                self.smtp.login(settings.user, settings.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise BadInput(f"the mail server {where} refused the login of {settings.user}: {_reply(exc)[1]}",
                           "check ROLLOUTCTL_SMTP_USER and ROLLOUTCTL_SMTP_PASSWORD") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise Transient(f"cannot reach the mail server {where}: {exc or type(exc).__name__}",
                            "messages stay in the outbox and are sent by the next reconcile") from None

    def send(self, key: str, recipients: tuple[str, ...], subject: str, body: str) -> dict[str, str]:
        """Deliver one message; returns the recipients the server refused while taking it for the
        others ({address: reply}). Raises Rejected (5xx for the message) or Transient."""
        message = EmailMessage()
        message["From"] = self.settings.sender
        message["To"] = ", ".join(recipients)
        message["Subject"] = subject
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@rolloutctl>"
        message.set_content(body)
        try:
            refused = self.smtp.send_message(message)
        except smtplib.SMTPServerDisconnected as exc:
            raise Transient(f"the mail server closed the connection while taking {subject!r}: {exc}",
                            "it is retried") from None
        except smtplib.SMTPException as exc:
            code, text = _reply(exc)
            if 500 <= code < 600:
                raise Rejected(f"the mail server refused {subject!r}: {code} {text}",
                               "fix the address in roles.yaml, adopters/ or the list; it is not retried") from None
            raise Transient(f"the mail server deferred {subject!r}: {code} {text}".rstrip(), "it is retried") from None
        except OSError as exc:  # a timeout or a reset connection
            raise Transient(f"the mail server did not answer for {subject!r}: {exc or type(exc).__name__}",
                            "it is retried") from None
        return {address: f"{code} {_text(text)}" for address, (code, text) in refused.items()}

    def close(self) -> None:
        with contextlib.suppress(OSError, smtplib.SMTPException):
            self.smtp.quit()
