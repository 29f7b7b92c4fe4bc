"""Sending one email (runner/people/mail.py): the sender the ``PRODPROVEN_SMTP_*`` settings
make, the message as it goes on the wire, and which server answers are final. Talking to a real
SMTP server: tests/integration/test_mail_delivery.py."""

from __future__ import annotations

import smtplib
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from prodproven.runner.config import Settings
from prodproven.runner.errors import ConfigError
from prodproven.runner.people.mail import Letter, SmtpSender, permanent

LETTER = Letter(
    "<1.2@prodproven>",
    "ada@example.com",
    "Your re-certification: deploy-model",
    "Hello Ada,\n\nplease take the challenge by 1 April.\n",
    datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
)


def settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env(
        {f"PRODPROVEN_SMTP_{k.upper()}": v for k, v in env.items()}, data_dir=tmp_path
    )


def test_without_a_host_there_is_no_sender(tmp_path: Path) -> None:
    assert SmtpSender.from_settings(settings(tmp_path)) is None


@pytest.mark.parametrize(("tls", "port"), [("none", 25), ("starttls", 587), ("tls", 465)])
def test_port_0_is_the_usual_port_of_the_connection(tmp_path: Path, tls: str, port: int) -> None:
    sender = SmtpSender.from_settings(settings(tmp_path, host="mail.example.com", tls=tls))
    assert sender is not None and (sender.port, sender.tls) == (port, tls)


def test_the_settings_make_the_sender(tmp_path: Path) -> None:
    sender = SmtpSender.from_settings(
        settings(
            tmp_path,
            host="mail.example.com",
            port="2525",
            user="prodproven",
            password="s3cret",
            **{"from": "Assessments <assess@example.com>"},
        )
    )
    assert sender == SmtpSender(
        "mail.example.com",
        2525,
        "starttls",
        "prodproven",
        "s3cret",
        "Assessments <assess@example.com>",
    )


def test_the_password_is_never_shown_with_the_settings(tmp_path: Path) -> None:
    configured = settings(tmp_path, host="mail.example.com", password="s3cret")
    assert "s3cret" not in repr(configured) and "s3cret" not in str(configured.model_dump())


def test_the_default_sender_is_prodproven_at_this_machine(tmp_path: Path) -> None:
    sender = SmtpSender.from_settings(settings(tmp_path, host="mail.example.com"))
    assert sender is not None and sender.sender == f"prodproven@{socket.getfqdn()}"


@pytest.mark.parametrize(
    ("key", "value"), [("from", "assessments"), ("tls", "ssl"), ("port", "70000")]
)
def test_a_bad_mail_setting_is_refused_naming_it(tmp_path: Path, key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"PRODPROVEN_SMTP_{key.upper()}"):
        settings(tmp_path, host="mail.example.com", **{key: value})


def test_the_message_carries_the_letters_headers_and_text() -> None:
    sender = SmtpSender("mail.example.com", 587, "starttls", "", "", "assess@example.com")
    message = sender.message(LETTER)
    assert message["From"] == "assess@example.com" and message["To"] == "ada@example.com"
    assert message["Subject"] == "Your re-certification: deploy-model"
    assert message["Message-ID"] == "<1.2@prodproven>"
    assert message["Date"] == "Sun, 01 Mar 2026 09:00:00 +0000"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content() == LETTER.text


@pytest.mark.parametrize(
    ("error", "final"),
    [
        (smtplib.SMTPRecipientsRefused({"a@x": (550, b"no such user")}), True),
        (smtplib.SMTPRecipientsRefused({"a@x": (550, b"no"), "b@x": (451, b"later")}), False),
        (smtplib.SMTPDataError(554, b"refused"), True),
        (smtplib.SMTPDataError(451, b"try later"), False),
        (smtplib.SMTPSenderRefused(553, b"not yours", "assess@example.com"), False),
        (smtplib.SMTPAuthenticationError(535, b"bad credentials"), False),
        (smtplib.SMTPServerDisconnected("closed"), False),
        (ConnectionRefusedError(111, "refused"), False),
    ],
)
def test_only_a_5xx_answer_about_the_message_is_final(error: Exception, final: bool) -> None:
    assert permanent(error) is final
