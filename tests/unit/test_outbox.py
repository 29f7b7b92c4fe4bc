"""The outbox (runner/people/outbox.py): a message is recorded before any attempt, sent once,
retried with capped exponential backoff, failed after its last attempt or a refusal for good,
and claimed by one deliverer at a time. A fake sender and a fake clock; the real SMTP server
is tests/integration/test_mail_delivery.py's."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from prodproven.runner.people.mail import Letter
from prodproven.runner.people.outbox import (
    CLAIM,
    FIRST_RETRY,
    MAX_ATTEMPTS,
    MAX_RETRY,
    Delivery,
    Message,
    Outbox,
    State,
    retry_delay,
)
from prodproven.runner.runs.store import Store

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


@dataclass
class FakeSender:
    """Takes every letter, or raises ``failing`` while it is set."""

    sent: list[Letter] = field(default_factory=list)
    failing: BaseException | None = None

    def send(self, letter: Letter) -> None:
        if self.failing is not None:
            raise self.failing
        self.sent.append(letter)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sender() -> FakeSender:
    return FakeSender()


@pytest.fixture
def outbox(store: Store, sender: FakeSender, clock: Clock) -> Outbox:
    return Outbox(store, sender, clock=clock)


def invite(outbox: Outbox, to: str = "ada@example.com") -> Message:
    return outbox.queue(
        to, "Your re-certification", "Hello Ada", "campaign.invitation", "c-1", firm="acme"
    )


def only(outbox: Outbox) -> Message:
    [message] = outbox.messages()
    return message


def test_a_queued_message_is_recorded_before_any_attempt_and_due_at_once(
    outbox: Outbox, sender: FakeSender
) -> None:
    message = invite(outbox, " Ada@Example.com ")
    assert (message.state, message.attempts, message.due_at) == (State.queued, 0, START)
    assert (message.recipient, message.firm, message.kind, message.ref) == (
        "ada@example.com",
        "acme",
        "campaign.invitation",
        "c-1",
    )
    assert sender.sent == []
    assert outbox.messages() == [message]


def test_without_a_server_messages_wait_queued(store: Store, clock: Clock) -> None:
    waiting = Outbox(store, None, clock=clock)
    invite(waiting)
    assert waiting.deliver_due() == Delivery()
    assert only(waiting).state is State.queued


def test_a_due_message_is_sent_once_with_its_own_message_id(
    outbox: Outbox, sender: FakeSender
) -> None:
    message = invite(outbox)
    assert outbox.deliver_due() == Delivery(sent=(message.id,))
    assert outbox.deliver_due() == Delivery()
    [letter] = sender.sent
    assert letter == Letter(
        message.message_id, "ada@example.com", message.subject, "Hello Ada", START
    )
    sent = only(outbox)
    assert (sent.state, sent.attempts, sent.sent_at, sent.error) == (State.sent, 1, START, None)
    assert sent.text == "", "its text, which may hold an invitation link, is erased once sent"


def test_a_server_that_is_down_leaves_the_message_queued_with_its_error_until_due_again(
    outbox: Outbox, sender: FakeSender, clock: Clock
) -> None:
    message = invite(outbox)
    sender.failing = ConnectionRefusedError(111, "Connection refused")
    assert outbox.deliver_due() == Delivery(retrying=(message.id,))
    waiting = only(outbox)
    assert waiting.state is State.queued and waiting.attempts == 1
    assert waiting.error == "ConnectionRefusedError: [Errno 111] Connection refused"
    assert waiting.due_at == START + FIRST_RETRY
    sender.failing = None
    clock.advance(FIRST_RETRY - timedelta(seconds=1))
    assert outbox.deliver_due() == Delivery()
    clock.advance(timedelta(seconds=1))
    assert outbox.deliver_due() == Delivery(sent=(message.id,))
    assert only(outbox).error is None and len(sender.sent) == 1


def test_backoff_doubles_from_a_minute_up_to_its_cap() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [FIRST_RETRY * k for k in (1, 2, 4, 8)]
    assert retry_delay(7) == MAX_RETRY == retry_delay(1000)


def test_after_its_last_attempt_a_message_has_failed_and_is_not_tried_again(
    outbox: Outbox, sender: FakeSender, clock: Clock
) -> None:
    message = invite(outbox)
    sender.failing = smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
    for attempt in range(1, MAX_ATTEMPTS):
        assert outbox.deliver_due() == Delivery(retrying=(message.id,)), attempt
        clock.advance(MAX_RETRY)
    assert outbox.deliver_due() == Delivery(failed=(message.id,))
    failed = only(outbox)
    assert (failed.state, failed.attempts) == (State.failed, MAX_ATTEMPTS)
    clock.advance(timedelta(days=30))
    sender.failing = None
    assert outbox.deliver_due() == Delivery() and sender.sent == []


def test_a_refusal_for_good_fails_at_once_and_a_passing_one_is_retried(
    outbox: Outbox, sender: FakeSender
) -> None:
    refused = invite(outbox, "nobody@example.com")
    sender.failing = smtplib.SMTPRecipientsRefused(
        {"nobody@example.com": (550, b"5.1.1 no such user")}
    )
    assert outbox.deliver_due() == Delivery(failed=(refused.id,))
    greylisted = invite(outbox, "ada@example.com")
    sender.failing = smtplib.SMTPRecipientsRefused({"ada@example.com": (451, b"4.7.1 try later")})
    assert outbox.deliver_due() == Delivery(retrying=(greylisted.id,))


def test_retry_makes_a_failed_message_due_now_with_its_attempts_afresh(
    outbox: Outbox, sender: FakeSender
) -> None:
    message = invite(outbox)
    sender.failing = smtplib.SMTPDataError(554, b"message refused")
    outbox.deliver_due()
    again = outbox.retry(message.id)
    assert again is not None
    assert (again.state, again.attempts, again.due_at) == (State.queued, 0, START)
    assert again.error == "SMTPDataError: (554, b'message refused')"
    sender.failing = None
    assert outbox.deliver_due() == Delivery(sent=(message.id,))


def test_retry_leaves_a_sent_message_as_it_is_and_knows_no_unknown_one(
    outbox: Outbox, sender: FakeSender
) -> None:
    message = invite(outbox)
    outbox.deliver_due()
    again = outbox.retry(message.id)
    assert again is not None and again.state is State.sent
    assert outbox.deliver_due() == Delivery() and len(sender.sent) == 1
    assert outbox.retry(message.id + 1) is None


@dataclass
class Reentrant:
    """A sender that, while it sends, lets a second deliverer try the same outbox: the other
    process that wakes up at the same moment."""

    other: Outbox | None = None
    sent: list[Letter] = field(default_factory=list)
    seen_by_other: list[Delivery] = field(default_factory=list)

    def send(self, letter: Letter) -> None:
        assert self.other is not None
        self.seen_by_other.append(self.other.deliver_due())
        self.sent.append(letter)


def test_a_message_being_sent_is_not_sent_by_a_second_deliverer(
    store: Store, clock: Clock, sender: FakeSender
) -> None:
    first = Reentrant(other=Outbox(store, sender, clock=clock))
    outbox = Outbox(store, first, clock=clock)
    message = invite(outbox)
    assert outbox.deliver_due() == Delivery(sent=(message.id,))
    assert first.seen_by_other == [Delivery()] and sender.sent == []
    assert len(first.sent) == 1


class Crash(BaseException):
    """The deliverer's process stopping mid-message."""


def test_a_claim_left_by_a_deliverer_that_stopped_expires_and_the_message_is_sent(
    store: Store, clock: Clock, sender: FakeSender
) -> None:
    message = invite(Outbox(store, None, clock=clock))
    with pytest.raises(Crash):
        Outbox(store, FakeSender(failing=Crash()), clock=clock).deliver_due()
    claimed = only(Outbox(store, None))
    assert (claimed.state, claimed.attempts) == (State.sending, 1)
    survivor = Outbox(store, sender, clock=clock)
    assert survivor.deliver_due() == Delivery()
    clock.advance(CLAIM)
    assert survivor.deliver_due() == Delivery(sent=(message.id,))
    assert only(survivor).attempts == 2


def test_an_expired_claims_late_result_does_not_overwrite_the_next_attempt(
    store: Store, clock: Clock
) -> None:
    @dataclass
    class Slow:
        """Takes so long that its claim runs out and another deliverer sends the message."""

        other: Outbox

        def send(self, letter: Letter) -> None:
            clock.advance(CLAIM)
            assert self.other.deliver_due().sent
            raise smtplib.SMTPServerDisconnected("gone")

    other = Outbox(store, FakeSender(), clock=clock)
    message = invite(other)
    Outbox(store, Slow(other), clock=clock).deliver_due()
    sent = only(other)
    assert (sent.id, sent.state, sent.attempts, sent.error) == (message.id, State.sent, 2, None)


@pytest.mark.parametrize(
    ("to", "subject"),
    [
        ("not-an-address", "Hello"),
        ("ada@example.com", "Hello\r\nBcc: eve@example.com"),
        ("ada@example.com", " "),
        ("ada@example.com", "x" * 301),
    ],
)
def test_a_message_that_is_not_one_is_refused_before_it_is_recorded(
    outbox: Outbox, to: str, subject: str
) -> None:
    with pytest.raises(ValueError, match="outbox: "):
        outbox.queue(to, subject, "text", "campaign.invitation", "c-1", firm="acme")
    assert outbox.messages() == []


def test_messages_are_listed_newest_first_by_firm(outbox: Outbox) -> None:
    first = invite(outbox)
    other = outbox.queue("bo@example.com", "Hi", "t", "campaign.reminder", "c-2", firm="globex")
    assert [m.id for m in outbox.messages()] == [other.id, first.id]
    assert outbox.messages(firm="acme") == [first]
    assert outbox.messages(limit=1) == [other]


def test_forgetting_a_recipient_deletes_their_messages(outbox: Outbox) -> None:
    invite(outbox)
    invite(outbox)
    kept = invite(outbox, "bo@example.com")
    assert outbox.forget("ADA@example.com") == 2
    assert outbox.messages() == [kept]


def test_a_message_as_data_is_json_values(outbox: Outbox) -> None:
    data = invite(outbox).as_data()
    assert data["state"] == "queued" and data["due_at"] == "2026-03-01T09:00:00+00:00"
    assert data["sent_at"] is None and data["message_id"].endswith("@prodproven>")
