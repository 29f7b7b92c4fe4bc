"""``prodproven outbox``: every email recorded (runner/people/outbox.py), what became of it, and
``--send`` / ``--retry ID`` to send what is due now."""

from __future__ import annotations

import json
from dataclasses import asdict

import click
from rich.table import Table

from prodproven.runner.cli.context import ROW_NUMBER, Context, err, out, plain
from prodproven.runner.people.mail import SmtpSender
from prodproven.runner.people.outbox import Delivery, Message, Outbox, State


def _when(message: Message) -> str:
    if message.state is State.sent and message.sent_at is not None:
        return "sent " + message.sent_at.strftime("%Y-%m-%d %H:%M UTC")
    if message.state is State.failed:
        return "-"
    return "due " + message.due_at.strftime("%Y-%m-%d %H:%M:%S UTC")


@click.command()
@click.option("--send", is_flag=True, help="First send the messages due now.")
@click.option(
    "--retry",
    "retry_id",
    type=ROW_NUMBER,
    metavar="ID",
    help="First make message ID (queued or failed) due now, its attempts afresh, and send "
    "the messages due.",
)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the messages as one JSON object.")
@click.pass_obj
def outbox(ctx: Context, send: bool, retry_id: int | None, limit: int, as_json: bool) -> None:
    """Show the newest emails of the outbox, every firm's: to whom, what, their state (queued,
    sending, sent, failed), attempts, when due or sent, the last error. Messages are sent
    through PRODPROVEN_SMTP_HOST and retried with backoff; without a server they wait."""
    sender = SmtpSender.from_settings(ctx.settings)
    box = Outbox(ctx.store(), sender)
    if retry_id is not None:
        found = box.retry(retry_id)
        if found is None:
            raise click.BadParameter(f"no message {retry_id} in the outbox", param_hint="--retry")
        if found.state not in (State.queued, State.failed):
            err.print(f"message {retry_id} is {found.state.value}: not sent again")
    delivery: Delivery | None = None
    if send or retry_id is not None:
        if sender is None:
            err.print("PRODPROVEN_SMTP_HOST is not set: nothing was sent")
        delivery = box.deliver_due()
    messages = box.messages(limit=limit)
    if as_json:
        doc = {
            "smtp_host": ctx.settings.smtp_host or None,
            "delivery": None if delivery is None else asdict(delivery),
            "messages": [m.as_data() for m in messages],
        }
        click.echo(json.dumps(doc, indent=2))
        return
    if delivery is not None:
        out.print(
            f"sent {len(delivery.sent)}, to retry {len(delivery.retrying)}, "
            f"failed {len(delivery.failed)}"
        )
    if not messages:
        out.print("the outbox is empty")
        return
    table = Table("id", "to", "subject", "kind", "state", "attempts", "when", "error")
    for m in messages:
        table.add_row(
            *plain(
                str(m.id),
                m.recipient,
                m.subject,
                f"{m.kind} {m.ref}",
                m.state.value,
                str(m.attempts),
                _when(m),
                m.error or "",
            )
        )
    out.print(table)
