"""Sending one email through the configured SMTP server (``PRODPROVEN_SMTP_*``, docs/teams.md,
"Email"). Nothing here retries: the outbox (``outbox.py``) records every message first and
decides when to try again.

The connection is plain, STARTTLS or TLS from the start; with either TLS the server's
certificate is verified against the system's certificate authorities (OpenSSL's defaults, so
``SSL_CERT_FILE`` names another bundle). With ``none`` a password crosses the network in clear:
keep that for a server on this machine.
"""

from __future__ import annotations

import email.utils
import smtplib
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Literal, Protocol

from prodproven.runner.config import Settings

TIMEOUT_S = 30.0
"""How long one exchange with the SMTP server may take."""

PORTS = {"none": 25, "starttls": 587, "tls": 465}
"""The usual port of each kind of connection (``PRODPROVEN_SMTP_PORT`` 0)."""


@dataclass(frozen=True)
class Letter:
    """One email as the outbox holds it. ``message_id`` stays the same on every attempt, so a
    receiver can tell a message sent twice (a sender that stopped after the server took it)."""

    message_id: str
    to: str
    subject: str
    text: str
    written_at: datetime


class Sender(Protocol):
    def send(self, letter: Letter) -> None:
        """Hand ``letter`` to the mail server. Raises smtplib.SMTPException or OSError."""


def permanent(error: BaseException) -> bool:
    """Whether the server refused this message for good: a 5xx answer to its recipients or
    to its content, so trying again cannot help. Everything else is retried: a connection that
    fails, a 4xx answer, and refusals an operator can fix for every message (a sign-in or a
    sender the server does not accept)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPDataError):
        return error.smtp_code >= 500
    return False


@dataclass(frozen=True)
class SmtpSender:
    """Sends through one SMTP server (:meth:`from_settings`)."""

    host: str
    port: int
    tls: Literal["none", "starttls", "tls"]
    user: str
    password: str
    sender: str
    timeout_s: float = TIMEOUT_S

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpSender | None:
        """The sender ``PRODPROVEN_SMTP_*`` configure; None when no server is set."""
        if not settings.smtp_host:
            return None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port or PORTS[settings.smtp_tls],
            tls=settings.smtp_tls,
            user=settings.smtp_user,
            password=settings.smtp_password.get_secret_value(),
            sender=settings.smtp_from or f"prodproven@{socket.getfqdn()}",
        )

    def message(self, letter: Letter) -> EmailMessage:
        """``letter`` with its headers, as it goes on the wire."""
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = letter.to
        message["Subject"] = letter.subject
        message["Date"] = email.utils.format_datetime(letter.written_at)
        message["Message-ID"] = letter.message_id
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(letter.text)
        return message

    def send(self, letter: Letter) -> None:
        """Hand ``letter`` to the server. Raises smtplib.SMTPException or OSError (refused,
        unreachable, a certificate that does not verify: ssl.SSLError is an OSError)."""
        message = self.message(letter)
        context = ssl.create_default_context()
        client = (
            smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s, context=context)
            if self.tls == "tls"
            else smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
        )
        with client:
            if self.tls == "starttls":
                client.starttls(context=context)
            if self.user:
                client.login(self.user, self.password)
            client.send_message(message)
