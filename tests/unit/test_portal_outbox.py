"""The outbox facet (runner/portal/outbox.py): an assessor sees only their firm's messages
(``read``) and makes a failed one due again (``review``); another firm's message is "not
found", the same as none; the operator sees every firm's."""

from __future__ import annotations

import smtplib

import pytest

from prodproven.runner.errors import MessageNotFound, ScopeDenied
from prodproven.runner.people.mail import Letter
from prodproven.runner.people.outbox import Message, Outbox, State
from prodproven.runner.portal.access import Actor
from prodproven.runner.portal.core import Portal
from tests.unit.portalsupport import ADA, BOB, CLI


class Refusing:
    """A mail server that refuses every recipient for good."""

    def send(self, letter: Letter) -> None:
        raise smtplib.SMTPRecipientsRefused({letter.to: (550, b"no such user")})


def failed(portal: Portal, firm: str, to: str) -> Message:
    """A message of ``firm`` the server refused for good."""
    box = Outbox(portal.records.store, Refusing())
    queued = box.queue(to, "Your invitation", "hello", "campaign.invitation", "c1", firm=firm)
    assert box.deliver_due().failed == (queued.id,)
    (found,) = [m for m in box.messages(firm) if m.id == queued.id]
    return found


def test_an_assessor_sees_their_firms_messages_only(portal: Portal) -> None:
    mine = failed(portal, "firm-a", "grace@example.org")
    theirs = failed(portal, "firm-b", "alan@example.org")
    assert [m.id for m in portal.outbox.messages(ADA)] == [mine.id]
    assert [m.id for m in portal.outbox.messages(BOB)] == [theirs.id]
    assert [m.id for m in portal.outbox.messages(CLI)] == [theirs.id, mine.id]
    assert mine.state is State.failed and "550" in (mine.error or "")


def test_retrying_makes_a_failed_message_due_now_with_its_attempts_afresh(
    portal: Portal,
) -> None:
    message = failed(portal, "firm-a", "grace@example.org")
    after, delivery = portal.outbox.retry(ADA, message.id)
    assert after.state is State.queued and after.attempts == 0
    assert after.due_at < message.due_at  # due now, not after its backoff
    assert delivery.sent == ()  # no SMTP server configured: it waits
    assert portal.records.audit.entries(str(message.id))[0].action == "outbox.retry"


def test_another_firms_message_is_not_found_and_stays_as_it_was(portal: Portal) -> None:
    theirs = failed(portal, "firm-b", "alan@example.org")
    with pytest.raises(MessageNotFound, match=f"no message {theirs.id} in the outbox"):
        portal.outbox.retry(ADA, theirs.id)
    with pytest.raises(MessageNotFound, match="no message 9999 in the outbox"):
        portal.outbox.retry(ADA, 9999)
    (still,) = portal.outbox.messages(BOB)
    assert still.state is State.failed


def test_seeing_needs_read_and_retrying_needs_review(portal: Portal) -> None:
    message = failed(portal, "firm-a", "grace@example.org")
    reader = Actor("ada@a.example", "firm-a", ("read",))
    assert [m.id for m in portal.outbox.messages(reader)] == [message.id]
    with pytest.raises(ScopeDenied, match="'review'"):
        portal.outbox.retry(reader, message.id)
    with pytest.raises(ScopeDenied, match="'read'"):
        portal.outbox.messages(Actor("ada@a.example", "firm-a", ("invite",)))
