"""Email through a real SMTP server (aiosmtpd on 127.0.0.1, started by each test): what the
outbox queues arrives with its headers; while the server is down messages stay queued with
the error and arrive once it is back; plain, STARTTLS with a sign-in, and TLS from the start,
each with the server's certificate verified; four deliverers at once (SQLite, PostgreSQL) send
each message once; ``prodproven outbox --send`` delivers too."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import json
import os
import ssl
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from prodproven.runner.config import Settings
from prodproven.runner.people.mail import SmtpSender
from prodproven.runner.people.outbox import FIRST_RETRY, Delivery, Message, Outbox, State
from prodproven.runner.runs.store import Store, utcnow
from tests.conftest import free_port

if TYPE_CHECKING:
    from tests import postgres

USER, PASSWORD = "prodproven", "mail-s3cret"
DELIVERERS = 4


@dataclass
class Arrived:
    message: EmailMessage
    mail_from: str
    rcpt_tos: list[str]
    tls: bool
    signed_in: bool


@dataclass
class Inbox:
    """aiosmtpd's handler: keeps every message that arrived."""

    arrived: list[Arrived] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes) and envelope.mail_from is not None
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.arrived.append(
            Arrived(
                parsed,
                envelope.mail_from,
                list(envelope.rcpt_tos),
                server.transport is not None
                and server.transport.get_extra_info("ssl_object") is not None,
                bool(session.authenticated),
            )
        )
        return "250 OK"


def authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)  # False: the server answers 535


@dataclass
class MailServer:
    """An SMTP server on 127.0.0.1:``port`` that can be stopped and started again there."""

    port: int
    certificate: tuple[Path, Path]
    inbox: Inbox = field(default_factory=Inbox)
    controller: Controller | None = None

    def start(self, tls: Literal["none", "starttls", "tls"] = "none") -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*self.certificate)
        options: dict[str, Any] = {"authenticator": authenticate}
        if tls == "starttls":
            options.update(tls_context=context, require_starttls=True)
        elif tls == "tls":
            options.update(ssl_context=context)
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, signed by itself."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "prodproven test mail")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def mail_server(tmp_path: Path) -> Iterator[MailServer]:
    """A mail server, not started yet (``start``), stopped after the test."""
    server = MailServer(free_port(), self_signed(tmp_path))
    yield server
    server.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    made = Store(f"sqlite:///{tmp_path / 'prodproven.db'}")
    yield made
    made.engine.dispose()


def sender_to(server: MailServer, tls: str = "none", **env: str) -> SmtpSender | None:
    environ = {
        "PRODPROVEN_SMTP_HOST": "127.0.0.1",
        "PRODPROVEN_SMTP_PORT": str(server.port),
        "PRODPROVEN_SMTP_TLS": tls,
        "PRODPROVEN_SMTP_FROM": "Assessments <assess@example.com>",
        **env,
    }
    return SmtpSender.from_settings(Settings.from_env(environ, data_dir=Path.cwd()))


def outbox_to(store: Store, server: MailServer, tls: str = "none", **env: str) -> Outbox:
    return Outbox(store, sender_to(server, tls, **env))


def invite(outbox: Outbox, to: str) -> Message:
    return outbox.queue(
        to,
        "Re-certification: deploy-model",
        f"Hello {to.partition('@')[0]},\n\nyour invitation: https://assess.example.com/i/abc\n",
        "campaign.invitation",
        "c-1",
        firm="acme",
    )


def test_queued_messages_arrive_with_their_headers(store: Store, mail_server: MailServer) -> None:
    mail_server.start()
    outbox = outbox_to(store, mail_server)
    ada, bo = invite(outbox, "ada@example.com"), invite(outbox, "bo@example.com")
    assert outbox.deliver_due() == Delivery(sent=(ada.id, bo.id))
    assert [a.rcpt_tos for a in mail_server.inbox.arrived] == [
        ["ada@example.com"],
        ["bo@example.com"],
    ]
    first = mail_server.inbox.arrived[0]
    assert first.mail_from == "assess@example.com" and not first.tls
    message = first.message
    assert message["From"] == "Assessments <assess@example.com>"
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Re-certification: deploy-model"
    assert message["Message-ID"] == ada.message_id
    assert abs(message["Date"].datetime - ada.created_at) < dt.timedelta(seconds=1)
    body = message.get_body()
    assert body is not None and "https://assess.example.com/i/abc" in body.get_content()
    assert {m.state for m in outbox.messages()} == {State.sent}


def test_while_the_server_is_down_messages_wait_with_the_error_and_arrive_when_it_is_back(
    store: Store, mail_server: MailServer
) -> None:
    outbox = outbox_to(store, mail_server)
    message = invite(outbox, "ada@example.com")
    assert outbox.deliver_due() == Delivery(retrying=(message.id,))
    [waiting] = outbox.messages()
    assert waiting.state is State.queued and waiting.attempts == 1
    assert waiting.error is not None and waiting.error.startswith("ConnectionRefusedError")
    mail_server.start()
    assert outbox.deliver_due() == Delivery(), "not due again before its backoff"
    later = Outbox(store, outbox.sender, clock=lambda: utcnow() + FIRST_RETRY)
    assert later.deliver_due() == Delivery(sent=(message.id,))
    [arrived] = mail_server.inbox.arrived
    assert arrived.message["Message-ID"] == message.message_id


def test_starttls_with_a_sign_in(
    store: Store, mail_server: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(mail_server.certificate[0]))
    mail_server.start("starttls")
    outbox = outbox_to(
        store, mail_server, "starttls", PRODPROVEN_SMTP_USER=USER, PRODPROVEN_SMTP_PASSWORD=PASSWORD
    )
    message = invite(outbox, "ada@example.com")
    assert outbox.deliver_due() == Delivery(sent=(message.id,))
    [arrived] = mail_server.inbox.arrived
    assert arrived.tls and arrived.signed_in


def test_a_wrong_password_is_recorded_and_retried(
    store: Store, mail_server: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(mail_server.certificate[0]))
    mail_server.start("starttls")
    outbox = outbox_to(
        store, mail_server, "starttls", PRODPROVEN_SMTP_USER=USER, PRODPROVEN_SMTP_PASSWORD="wrong"
    )
    message = invite(outbox, "ada@example.com")
    assert outbox.deliver_due() == Delivery(retrying=(message.id,))
    [waiting] = outbox.messages()
    assert waiting.error is not None and waiting.error.startswith("SMTPAuthenticationError: (535")
    assert mail_server.inbox.arrived == []


def test_tls_from_the_start(
    store: Store, mail_server: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(mail_server.certificate[0]))
    mail_server.start("tls")
    outbox = outbox_to(store, mail_server, "tls")
    message = invite(outbox, "ada@example.com")
    assert outbox.deliver_due() == Delivery(sent=(message.id,))
    [arrived] = mail_server.inbox.arrived
    assert arrived.tls


def test_a_certificate_that_does_not_verify_sends_nothing(
    store: Store, mail_server: MailServer
) -> None:
    mail_server.start("starttls")
    outbox = outbox_to(store, mail_server, "starttls")
    message = invite(outbox, "ada@example.com")
    assert outbox.deliver_due() == Delivery(retrying=(message.id,))
    [waiting] = outbox.messages()
    assert waiting.error is not None and "CERTIFICATE_VERIFY_FAILED" in waiting.error
    assert mail_server.inbox.arrived == []


def test_the_cli_sends_what_is_due_and_shows_the_outbox(
    tmp_path: Path, store: Store, mail_server: MailServer
) -> None:
    mail_server.start()
    message = invite(Outbox(store, None), "ada@example.com")
    env = {
        "PRODPROVEN_DATA_DIR": str(tmp_path),
        "PRODPROVEN_SMTP_HOST": "127.0.0.1",
        "PRODPROVEN_SMTP_PORT": str(mail_server.port),
        "PRODPROVEN_SMTP_TLS": "none",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    shown = subprocess.run(
        [sys.executable, "-m", "prodproven.runner.cli", "outbox", "--send", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    assert doc["delivery"] == {"sent": [message.id], "retrying": [], "failed": []}
    assert [m["state"] for m in doc["messages"]] == ["sent"]
    [arrived] = mail_server.inbox.arrived
    assert arrived.message["Message-ID"] == message.message_id


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.db'}"
        return
    server: postgres.Server = request.getfixturevalue("postgres_server")
    with server.database() as url:
        yield url


def test_deliverers_working_at_once_send_each_message_once(
    store_url: str, mail_server: MailServer
) -> None:
    mail_server.start()
    stores = [Store(store_url) for _ in range(DELIVERERS)]
    queued = [invite(Outbox(stores[0], None), f"p{n}@example.com") for n in range(30)]
    sender = sender_to(mail_server)
    start = threading.Barrier(DELIVERERS)

    def deliver(store: Store) -> Delivery:
        start.wait()
        return Outbox(store, sender).deliver_due()

    with ThreadPoolExecutor(DELIVERERS) as pool:
        deliveries = list(pool.map(deliver, stores))
    for store in stores:
        store.engine.dispose()
    sent = Counter(m for d in deliveries for m in d.sent)
    assert sent == Counter(m.id for m in queued), "each message sent by exactly one deliverer"
    arrived = Counter(a.message["Message-ID"] for a in mail_server.inbox.arrived)
    assert arrived == Counter(m.message_id for m in queued)
