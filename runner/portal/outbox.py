"""The outbox as the portal hands it out (docs/teams.md#email): an assessor sees their firm's
messages (``read`` scope) and sends a queued or failed one again now (``review`` scope); the
operator at the CLI sees every firm's. Another firm's message is "not found"."""

from __future__ import annotations

from sqlalchemy import select

from prodproven.runner.errors import MessageNotFound
from prodproven.runner.people.mail import SmtpSender
from prodproven.runner.people.outbox import Delivery, Message, Outbox, OutboxRow
from prodproven.runner.portal.access import Access, Actor, Records


class OutboxDesk:
    """A firm's outbox: its messages, and retrying one."""

    def __init__(self, records: Records, access: Access) -> None:
        self._records = records
        self._access = access

    def _outbox(self) -> Outbox:
        return Outbox(self._records.store, SmtpSender.from_settings(self._records.settings))

    def messages(self, actor: Actor, limit: int = 200) -> list[Message]:
        """The newest ``limit`` messages of the actor's firm (the operator's: every firm's),
        newest first."""
        actor.require("read")
        return self._outbox().messages(actor.firm, limit)

    def retry(self, actor: Actor, message_id: int) -> tuple[Message, Delivery]:
        """Make a queued or failed message of the actor's firm due now, its attempts afresh,
        and send what is due (as ``prodproven outbox --retry``); a message sent or being sent
        stays as it is. The message as it is then, and what the delivery did. Raises
        ScopeDenied, MessageNotFound (for another firm's message the same as for none)."""
        actor.require("review")
        found = self._get(message_id)
        if found is None or not actor.sees(found.firm):
            raise MessageNotFound(f"no message {message_id} in the outbox")
        box = self._outbox()
        box.retry(message_id)
        self._access.record(actor.label, "outbox.retry", str(message_id), {"firm": found.firm})
        delivery = box.deliver_due()
        after = self._get(message_id)
        if after is None:  # its recipient was forgotten meanwhile
            raise MessageNotFound(f"no message {message_id} in the outbox")
        return after, delivery

    def _get(self, message_id: int) -> Message | None:
        with self._records.store.session() as s:
            row = s.scalar(select(OutboxRow).where(OutboxRow.id == message_id))
            return None if row is None else Message.from_row(row)
