"""``prodproven campaign``: a firm's re-certification campaigns (create, list, show their
progress, close) and ``campaign tick``, which does the due work once, for cron
(docs/teams.md#re-certification-campaigns). The operator acts for ``--firm``, by default the
installation's ``firm`` setting."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime

import click
from rich.table import Table

from prodproven.runner.cli.context import Context, out, plain
from prodproven.runner.cli.people import operator
from prodproven.runner.people.campaigns import MAX_CADENCE_MONTHS, MAX_DAYS, Campaign, CampaignSpec
from prodproven.runner.people.mail import SmtpSender
from prodproven.runner.people.outbox import Outbox

FIRM = click.option("--firm", help="The firm acted for (default: the `firm` setting).")
JSON = click.option("--json", "as_json", is_flag=True, help="Print it as JSON.")
DAYS = click.IntRange(1, MAX_DAYS)


@click.group()
def campaign() -> None:
    """Re-certification campaigns: a team or people asked to take a challenge again, every N
    months or once, with reminders."""


@campaign.command("create")
@click.argument("name")
@click.option("--team", help="The team whose members are asked (as they are at each cycle).")
@click.option("--person", "people", multiple=True, metavar="NAME", help="A candidate (repeat).")
@click.option("--challenge", help="The id of the challenge to take.")
@click.option("--competency", help="Take whichever installed challenge measures it.")
@click.option(
    "--every-months", type=click.IntRange(1, MAX_CADENCE_MONTHS), help="A cycle every N months."
)
@click.option("--once", is_flag=True, help="One cycle only (instead of --every-months).")
@click.option(
    "--opens",
    required=True,
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M"]),
    help="When the first cycle opens (UTC).",
)
@click.option("--window-days", required=True, type=DAYS, help="Days from opening to deadline.")
@click.option("--remind-days", type=DAYS, help="Remind this many days before the deadline.")
@click.option(
    "--lapse-remind-days", type=DAYS, help="Remind this many days before evidence lapses."
)
@FIRM
@JSON
@click.pass_obj
def create(
    ctx: Context,
    name: str,
    team: str | None,
    people: tuple[str, ...],
    challenge: str | None,
    competency: str | None,
    every_months: int | None,
    once: bool,
    opens: datetime,
    window_days: int,
    remind_days: int | None,
    lapse_remind_days: int | None,
    firm: str | None,
    as_json: bool,
) -> None:
    """Create campaign NAME: give --team or --person, --challenge or --competency, and
    --every-months or --once."""
    if once == (every_months is not None):
        raise click.UsageError("give either --every-months N or --once")
    spec = CampaignSpec(
        name, opens.replace(tzinfo=UTC), window_days, team, people, challenge, competency,
        every_months, remind_days, lapse_remind_days,
    )  # fmt: skip
    made = ctx.portal().campaigns.create(operator(), spec, firm)
    if as_json:
        click.echo(json.dumps(_campaign(made), indent=2))
        return
    out.print(*plain(f"created campaign {made.spec.name}; {_schedule(made)}"))


@campaign.command("list")
@FIRM
@JSON
@click.pass_obj
def list_campaigns(ctx: Context, firm: str | None, as_json: bool) -> None:
    """The firm's campaigns."""
    found = ctx.portal().campaigns.campaigns(operator(), firm)
    if as_json:
        click.echo(json.dumps([_campaign(c) for c in found], indent=2))
        return
    table = Table("campaign", "of", "target", "schedule", "state")
    for c in found:
        of = f"team {c.spec.team}" if c.spec.team else ", ".join(c.spec.people)
        target = c.spec.challenge or f"competency {c.spec.competency}"
        state = "closed" if c.closed_at else "open"
        table.add_row(*plain(c.spec.name, of, target, _schedule(c), state))
    out.print(table if found else "no campaigns yet: `prodproven campaign create NAME ...`")


@campaign.command("show")
@click.argument("name")
@FIRM
@JSON
@click.pass_obj
def show(ctx: Context, name: str, firm: str | None, as_json: bool) -> None:
    """Campaign NAME's progress: each member's state per cycle (scheduled, invited, started,
    graded, passed, overdue), newest cycle first."""
    found = ctx.portal().campaigns.progress(operator(), name, firm)
    if as_json:
        doc = {**asdict(found), "campaign": _campaign(found.campaign)}
        click.echo(json.dumps(doc, indent=2, default=str))
        return
    out.print(*plain(f"campaign {name}: {_schedule(found.campaign)}"))
    out.print(*plain(", ".join(f"{n} {state}" for state, n in found.counts.items() if n)))
    table = Table("member", "cycle", "state", "deadline", "challenge", "run", "score", "note")
    for m in found.members:
        score = "" if m.score is None else f"{m.score:.0f}"
        table.add_row(*plain(m.candidate, str(m.cycle), m.state, f"{m.deadline:%Y-%m-%d}",
                             m.challenge or "", m.run_id or "", score, m.note or ""))  # fmt: skip
    out.print(table)


@campaign.command("close")
@click.argument("name")
@FIRM
@JSON
@click.pass_obj
def close(ctx: Context, name: str, firm: str | None, as_json: bool) -> None:
    """Close campaign NAME: no cycle opens and no reminder goes out after this."""
    closed = ctx.portal().campaigns.close(operator(), name, firm)
    if as_json:
        click.echo(json.dumps(_campaign(closed), indent=2))
        return
    out.print(*plain(f"closed campaign {closed.spec.name}"))


@campaign.command("tick")
@JSON
@click.pass_obj
def tick(ctx: Context, as_json: bool) -> None:
    """Do the due work once, for cron, of every firm: open each campaign's due cycle, do its
    due steps (invitations and reminders, queued in the outbox), then send the outbox's due
    email."""
    the_portal = ctx.portal()
    lines = the_portal.campaigns.run_due()
    delivery = Outbox(the_portal.records.store, SmtpSender.from_settings(ctx.settings))
    sent = delivery.deliver_due()
    if as_json:
        click.echo(json.dumps({"done": lines, "email": asdict(sent)}, indent=2))
        return
    for line in lines:
        out.print(*plain(line))
    out.print(*plain(f"email: {len(sent.sent)} sent, {len(sent.retrying)} to retry, "
                     f"{len(sent.failed)} failed"))  # fmt: skip


def _schedule(c: Campaign) -> str:
    every = f"every {c.spec.cadence_months} months" if c.spec.cadence_months else "once"
    return f"{every} from {c.spec.opens_at:%Y-%m-%d}, {c.spec.window_days} days each"


def _campaign(c: Campaign) -> dict[str, object]:
    return json.loads(json.dumps(asdict(c), default=str))  # type: ignore[no-any-return]
