"""The outbox: every email prodproven sends is a row here before anything is sent, so an SMTP
server that is down, or no server configured, loses nothing; the row says what happened.

- :meth:`Outbox.queue` writes the message, ``queued`` and due at once.
- :meth:`Outbox.deliver_due` sends what is due through a ``mail.Sender``. Each message is
  *claimed* first by one conditional UPDATE (``queued`` or an expired ``sending``, due, into
  ``sending``, one more attempt, due again only after ``CLAIM``), so two processes delivering
  at once never both send it; a sender that dies mid-message leaves a claim that expires, and
  the message is tried again.
- A message the server took is ``sent``. A failed attempt (server down, a 4xx answer) records
  the error and makes the message due again after ``retry_delay``: 1 minute after the first
  attempt, doubling, at most ``MAX_RETRY``; after ``MAX_ATTEMPTS`` attempts, or at once when
  the server refused the message itself for good (``mail.permanent``), it is ``failed``.
- :meth:`Outbox.retry` makes a queued or failed message due now, with its attempts afresh.

A sent message's text is erased (its recipient, subject and times stay): a text may hold an
invitation link, whose token is otherwise never stored. Each message keeps one ``Message-ID``
over its attempts. A sender that stops after the server took a message but before recording
it sends it again once its claim expires: delivery is at least once, as SMTP allows no better.
"""

from __future__ import annotations

import email.utils
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Integer, String, Text, and_, delete, select, update
from sqlalchemy.orm import Mapped, mapped_column

from prodproven.runner.people.accounts import EMAIL
from prodproven.runner.people.mail import Letter, Sender, permanent
from prodproven.runner.runs.store import Base, Store, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(hours=1)
CLAIM = timedelta(minutes=5)
"""How long a sender holds a message it claimed (far longer than ``mail.TIMEOUT_S``)."""
BATCH = 100
"""The most messages one :meth:`Outbox.deliver_due` sends."""
MAX_SUBJECT = 300
MAX_ERROR = 2000
"""The longest error text kept (characters)."""
MESSAGE_ID_DOMAIN = "prodproven"


class State(StrEnum):
    queued = "queued"
    sending = "sending"
    sent = "sent"
    failed = "failed"


class OutboxRow(Base):
    """One email: queued, being sent (``due_at`` is then the end of the sender's claim),
    sent, or failed for good."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    firm: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    ref: Mapped[str] = mapped_column(String(64), index=True)
    recipient: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column()
    due_at: Mapped[datetime] = mapped_column(index=True)
    sent_at: Mapped[datetime | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)


@dataclass(frozen=True)
class Message:
    """A message of the outbox as the rest of prodproven sees it."""

    id: int
    firm: str
    kind: str
    ref: str
    recipient: str
    subject: str
    text: str
    message_id: str
    state: State
    attempts: int
    created_at: datetime
    due_at: datetime
    sent_at: datetime | None
    error: str | None

    @classmethod
    def from_row(cls, row: OutboxRow) -> Message:
        fields = {f: getattr(row, f) for f in cls.__dataclass_fields__ if f != "state"}
        return cls(**fields, state=State(row.state))

    def letter(self) -> Letter:
        return Letter(self.message_id, self.recipient, self.subject, self.text, self.created_at)

    def as_data(self) -> dict[str, Any]:
        """The message as JSON values (times in ISO 8601)."""
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Delivery:
    """What one :meth:`Outbox.deliver_due` did, by message id."""

    sent: tuple[int, ...] = ()
    retrying: tuple[int, ...] = ()
    failed: tuple[int, ...] = ()


def retry_delay(attempts: int) -> timedelta:
    """How long a message waits after its ``attempts``-th attempt failed."""
    return min(FIRST_RETRY * int(2 ** min(max(attempts - 1, 0), 30)), MAX_RETRY)


class Outbox:
    def __init__(
        self, store: Store, sender: Sender | None, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        """The store's outbox, delivering through ``sender`` (None: no server is configured,
        messages wait)."""
        self.store = store
        self.sender = sender
        self.clock = clock

    def queue(self, to: str, subject: str, text: str, kind: str, ref: str, *, firm: str) -> Message:
        """Record a message to ``to`` (due at once) and return it; ``kind`` says what it is
        (``campaign.invitation``), ``ref`` what it is about (the campaign's id). Raises
        ValueError when ``to`` is not an email address or ``subject`` is not one line of at
        most ``MAX_SUBJECT`` characters (the caller checks what people typed first)."""
        to = to.strip().lower()
        if len(to) > 254 or not EMAIL.match(to):
            raise ValueError(f"outbox: {to[:254]!r} is not an email address")
        if not subject.strip() or len(subject) > MAX_SUBJECT or "\n" in subject or "\r" in subject:
            raise ValueError(
                f"outbox: a subject is one line of 1 to {MAX_SUBJECT} characters, not {subject!r}"
            )
        now = self.clock()
        row = OutboxRow(
            firm=firm,
            kind=kind,
            ref=ref,
            recipient=to,
            subject=subject,
            text=text,
            message_id=email.utils.make_msgid(domain=MESSAGE_ID_DOMAIN),
            state=State.queued.value,
            attempts=0,
            created_at=now,
            due_at=now,
        )
        with self.store.session() as s:
            s.add(row)
            s.flush()
            return Message.from_row(row)

    def deliver_due(self) -> Delivery:
        """Send every message due now (at most ``BATCH``, oldest due first), each claimed
        first so another process delivering at once skips it. Failures are recorded on the
        message, never raised."""
        if self.sender is None:
            return Delivery()
        now = self.clock()
        with self.store.session() as s:
            due = list(
                s.scalars(
                    select(OutboxRow.id)
                    .where(_due(now))
                    .order_by(OutboxRow.due_at, OutboxRow.id)
                    .limit(BATCH)
                )
            )
        sent: list[int] = []
        retrying: list[int] = []
        failed: list[int] = []
        for message_id in due:
            message = self._claim(message_id)
            if message is None:
                continue  # another process claimed it first
            try:
                self.sender.send(message.letter())
            except (OSError, ValueError) as exc:
                # smtplib.SMTPException is an OSError; ValueError: a header the library refuses
                state = self._failed(message, exc)
                (failed if state is State.failed else retrying).append(message_id)
            else:
                self._finish(message, state=State.sent, sent_at=self.clock(), error=None, text="")
                sent.append(message_id)
        return Delivery(tuple(sent), tuple(retrying), tuple(failed))

    def _claim(self, message_id: int) -> Message | None:
        """The message, claimed for one attempt; None when another process claimed it, or it
        was sent, since it was found due."""
        now = self.clock()
        with self.store.session() as s:
            claimed = (
                s.connection()
                .execute(
                    update(OutboxRow)
                    .where(OutboxRow.id == message_id, _due(now))
                    .values(
                        state=State.sending.value,
                        attempts=OutboxRow.attempts + 1,
                        due_at=now + CLAIM,
                    )
                )
                .rowcount
            )
            if claimed != 1:
                return None
            row = s.get(OutboxRow, message_id, populate_existing=True)
            assert row is not None, message_id
            return Message.from_row(row)

    def _failed(self, message: Message, error: Exception) -> State:
        """Record a failed attempt; the message's new state (queued again, or failed)."""
        text = f"{type(error).__name__}: {error}"[:MAX_ERROR]
        final = permanent(error) or message.attempts >= MAX_ATTEMPTS
        log.warning(
            "outbox: message %s, attempt %s failed%s: %s",
            message.id,
            message.attempts,
            " for good" if final else "",
            text,
        )
        state = State.failed if final else State.queued
        self._finish(
            message, state=state, error=text, due_at=self.clock() + retry_delay(message.attempts)
        )
        return state

    def _finish(self, message: Message, **values: Any) -> None:
        """Record the end of the attempt ``message`` claimed, unless its claim expired and
        another attempt began since."""
        with self.store.session() as s:
            s.execute(
                update(OutboxRow)
                .where(OutboxRow.id == message.id, OutboxRow.attempts == message.attempts)
                .values(**{k: v.value if isinstance(v, State) else v for k, v in values.items()})
            )

    def retry(self, message_id: int) -> Message | None:
        """Make a queued or failed message due now, its attempts counted afresh; a message
        sent or being sent is left as it is. The message, or None when there is none."""
        with self.store.session() as s:
            s.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.id == message_id,
                    OutboxRow.state.in_([State.queued.value, State.failed.value]),
                )
                .values(state=State.queued.value, attempts=0, due_at=self.clock())
            )
            row = s.get(OutboxRow, message_id, populate_existing=True)
            return Message.from_row(row) if row is not None else None

    def messages(self, firm: str | None = None, limit: int = 200) -> list[Message]:
        """The newest ``limit`` messages (of ``firm``; None: every firm's), newest first."""
        with self.store.session() as s:
            query = select(OutboxRow).order_by(OutboxRow.id.desc()).limit(limit)
            if firm is not None:
                query = query.where(OutboxRow.firm == firm)
            return [Message.from_row(row) for row in s.scalars(query)]

    def forget(self, recipient: str) -> int:
        """Delete every message to ``recipient`` (a candidate forgotten); how many."""
        with self.store.session() as s:
            gone = s.connection().execute(
                delete(OutboxRow).where(OutboxRow.recipient == recipient.strip().lower())
            )
            return int(gone.rowcount)


def _due(now: datetime) -> ColumnElement[bool]:
    """Messages to send at ``now``: queued and due, or claimed by a sender whose claim ran
    out."""
    return and_(
        OutboxRow.state.in_([State.queued.value, State.sending.value]), OutboxRow.due_at <= now
    )
