"""``prodproven outbox``: the emails recorded, for people and scripts, and ``--send`` /
``--retry ID`` (runner/cli/outbox.py). No SMTP server here: delivery through a real one is
tests/integration/test_mail_delivery.py's."""

from __future__ import annotations

import json
from pathlib import Path

from prodproven.runner.people.outbox import Message, Outbox
from prodproven.runner.runs.store import Store
from tests.unit.test_cli import prodproven


def queued(data: Path) -> Message:
    store = Store(f"sqlite:///{data / 'prodproven.db'}")
    message = Outbox(store, None).queue(
        "ada@example.com", "Re-certification", "Hello", "campaign.invitation", "c-1", firm="acme"
    )
    store.engine.dispose()
    return message


def test_it_lists_the_messages_with_their_state(tmp_path: Path) -> None:
    message = queued(tmp_path)
    shown = prodproven("outbox", env_dir=tmp_path, columns=200)
    assert shown.returncode == 0, shown.stderr
    assert "ada@example.com" in shown.stdout and "Re-certification" in shown.stdout
    assert "campaign.invitation c-1" in shown.stdout and "queued" in shown.stdout
    doc = json.loads(prodproven("outbox", "--json", env_dir=tmp_path).stdout)
    assert doc["smtp_host"] is None and doc["delivery"] is None
    assert doc["messages"] == [message.as_data()]


def test_an_empty_outbox_says_so(tmp_path: Path) -> None:
    shown = prodproven("outbox", env_dir=tmp_path)
    assert (shown.returncode, shown.stdout.strip()) == (0, "the outbox is empty")


def test_send_without_a_server_says_nothing_was_sent_and_keeps_the_message(tmp_path: Path) -> None:
    queued(tmp_path)
    shown = prodproven("outbox", "--send", "--json", env_dir=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "PRODPROVEN_SMTP_HOST is not set: nothing was sent" in shown.stderr
    doc = json.loads(shown.stdout)
    assert doc["delivery"] == {"sent": [], "retrying": [], "failed": []}
    assert [m["state"] for m in doc["messages"]] == ["queued"]


def test_retry_of_an_unknown_message_is_one_message(tmp_path: Path) -> None:
    queued(tmp_path)
    refused = prodproven("outbox", "--retry", "99", env_dir=tmp_path)
    assert refused.returncode == 2
    assert "no message 99 in the outbox" in refused.stderr
