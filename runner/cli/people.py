"""The commands for people around the runs: the web app, assessors, invitations, reports."""

from __future__ import annotations

import getpass
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from prodproven.runner.cli.context import ROW_NUMBER, Context, OutFile, out, plain, write_out
from prodproven.runner.config import Settings
from prodproven.runner.errors import AccountError
from prodproven.runner.lifecycle import recovery
from prodproven.runner.people.accounts import MAX_TOKEN_DAYS, SCOPES, ApiToken
from prodproven.runner.people.invitations import (
    MAX_EXTRA_MINUTES,
    MAX_EXTRA_PERCENT,
    Accommodation,
)
from prodproven.runner.portal.access import Actor
from prodproven.runner.present.htmlreport import render_report
from prodproven.runner.runs.store import utcnow
from prodproven.runner.spec.prepare import MAX_VARIANT


def operator() -> Actor:
    """The person at the CLI: they own the data directory, so they see every firm."""
    return Actor(f"cli:{getpass.getuser()}", None)


def _password(stdin: bool) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    first = click.prompt("password", hide_input=True)
    if click.prompt("again", hide_input=True) != first:
        raise AccountError("the two passwords differ")
    return str(first)


@click.command()
@click.option("--host", help="Address to listen on [env PRODPROVEN_WEB_HOST; 127.0.0.1].")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    help="Port to listen on [env PRODPROVEN_WEB_PORT; 8080].",
)
@click.pass_obj
def serve(ctx: Context, host: str | None, port: int | None) -> None:
    """Serve the web app: candidates take challenges through their invitation links,
    assessors sign in to review runs, scripts use the JSON API under /api/. At startup, runs
    that a stopped process left mid-way are taken up in the background (as `recover` does)."""
    import uvicorn

    from prodproven.runner.web.app import create_app

    settings = ctx.settings.model_copy(
        update={k: v for k, v in {"web_host": host, "web_port": port}.items() if v is not None}
    )
    ctx.settings = settings
    the_portal = ctx.portal()
    url = f"http://{settings.web_host}:{settings.web_port}"
    out.print(Text.assemble("prodproven web app on ", (url, "bold")))
    if not the_portal.accounts.assessors():
        out.print("no assessor yet: add one with `prodproven assessor add EMAIL --firm FIRM`")
    app = create_app(the_portal)
    recovery.in_background(the_portal.invited.runner)  # logged once the app set logging up
    uvicorn.run(app, host=settings.web_host, port=settings.web_port, **server_options(settings))


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options beyond the address: forwarded headers are believed only from the
    ``trusted_proxies`` (none by default: anyone could send them)."""
    proxies = settings.trusted_proxies.strip()
    if not proxies:
        return {"log_level": "info", "proxy_headers": False}
    return {"log_level": "info", "proxy_headers": True, "forwarded_allow_ips": proxies}


@click.command()
@click.argument("challenge_ref", metavar="CHALLENGE")
@click.option("--name", "candidate_name", required=True, help="The candidate's name.")
@click.option("--email", "candidate_email", required=True, help="The candidate's email.")
@click.option("--days", type=float, help="How long the link stays valid [settings: 7].")
@click.option(
    "--variant",
    type=click.IntRange(0, MAX_VARIANT),
    help="Seed of the generated material [default: random].",
)
@click.option(
    "--extra-minutes",
    type=click.IntRange(0, MAX_EXTRA_MINUTES),
    default=0,
    help="An accommodation: this many minutes more than the challenge's time limit.",
)
@click.option(
    "--extra-percent",
    type=click.IntRange(0, MAX_EXTRA_PERCENT),
    default=0,
    help="An accommodation: this percentage of the time limit more (not with --extra-minutes).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the invitation as JSON.")
@click.pass_obj
def invite(
    ctx: Context,
    challenge_ref: str,
    candidate_name: str,
    candidate_email: str,
    days: float | None,
    variant: int | None,
    extra_minutes: int,
    extra_percent: int,
    as_json: bool,
) -> None:
    """Invite a candidate to CHALLENGE; prints the single-use link (shown only now). Extra
    time granted is added to the run's deadline and shown to assessors."""
    accommodation = Accommodation(extra_minutes, extra_percent)
    invitation, link = ctx.portal().invitations.invite(
        operator(), challenge_ref, candidate_name, candidate_email, days, variant, accommodation
    )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "id": invitation.id,
                    "challenge": invitation.challenge_id,
                    "candidate_email": invitation.candidate_email,
                    "expires_at": invitation.expires_at.isoformat(),
                    "extra_time": accommodation.describe(),
                    "link": link,
                }
            )
        )
        return
    out.print(
        Text(
            f"invitation {invitation.id} for {invitation.candidate_name} "
            f"({invitation.challenge_id})"
        )
    )
    if accommodation:
        out.print(Text(f"extra time granted: {accommodation.describe()}"))
    out.print(
        Text(f"expires {invitation.expires_at:%Y-%m-%d %H:%M} UTC; send this link, shown only now:")
    )
    click.echo(link)


@click.group()
def assessor() -> None:
    """Assessor accounts and their API tokens."""


@assessor.command("add")
@click.argument("email")
@click.option("--name", default="", help="Display name [default: the email].")
@click.option("--firm", help="The assessor's firm [settings: PRODPROVEN_FIRM].")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.pass_obj
def assessor_add(
    ctx: Context, email: str, name: str, firm: str | None, password_stdin: bool
) -> None:
    """Create an assessor who signs in to the web app with EMAIL and a password."""
    person = ctx.portal().accounts.add_assessor(
        email, name, firm or ctx.settings.firm, _password(password_stdin)
    )
    out.print(Text(f"assessor {person.email} of {person.firm} created"))


@assessor.command("passwd")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.pass_obj
def assessor_passwd(ctx: Context, email: str, password_stdin: bool) -> None:
    """Set the password of an assessor; signs them out of every browser."""
    ended = ctx.portal().accounts.set_password(operator(), email, _password(password_stdin))
    out.print(Text(f"password of {email} changed; {ended} web session(s) ended"))


@assessor.command("remove")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="Print what was removed as JSON.")
@click.pass_obj
def assessor_remove(ctx: Context, email: str, as_json: bool) -> None:
    """Remove the assessor EMAIL: their API tokens and web sessions end at once. Their
    invitations, reviews and audit entries stay, under their email. Audited."""
    removed = ctx.portal().accounts.remove(operator(), email)
    if as_json:
        click.echo(json.dumps({**vars(removed), "assessor": vars(removed.assessor)}))
        return
    out.print(
        Text(
            f"assessor {removed.assessor.email} of {removed.assessor.firm} removed; "
            f"{removed.tokens} API token(s) and {removed.sessions} web session(s) ended"
        )
    )


@assessor.command("unlock")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="Print whether it was locked as JSON.")
@click.pass_obj
def assessor_unlock(ctx: Context, email: str, as_json: bool) -> None:
    """Lift the sign-in lockout of EMAIL (after too many wrong passwords) and forget its
    failed attempts. Audited."""
    was_locked = ctx.portal().accounts.unlock(operator(), email)
    if as_json:
        click.echo(json.dumps({"email": email, "was_locked": was_locked}))
        return
    out.print(Text(f"{email} unlocked" if was_locked else f"{email} was not locked"))


@assessor.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_obj
def assessor_list(ctx: Context, as_json: bool) -> None:
    """List the assessors."""
    people = ctx.portal().accounts.assessors()
    if as_json:
        click.echo(json.dumps([vars(p) for p in people]))
        return
    table = Table("email", "name", "firm")
    for person in people:
        table.add_row(*plain(person.email, person.name, person.firm))
    out.print(table)


@assessor.command("token")
@click.argument("email")
@click.option("--name", default="api", show_default=True, help="What the token is for.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(SCOPES),
    help="What it may do (repeat); default: all of read, invite, review.",
)
@click.option(
    "--days",
    type=click.IntRange(1, MAX_TOKEN_DAYS),
    help="How long it stays valid [settings: PRODPROVEN_TOKEN_DAYS, 90].",
)
@click.pass_obj
def assessor_token(
    ctx: Context, email: str, name: str, scopes: tuple[str, ...], days: int | None
) -> None:
    """Make an API token for the assessor EMAIL; prints it once (only its hash is kept)."""
    token, secret = ctx.portal().accounts.create_token(email, name, scopes or SCOPES, days)
    out.print(
        Text(
            f"token {token.id} ({', '.join(token.scopes)}) for {email}, expires "
            f"{token.expires_at:%Y-%m-%d %H:%M} UTC; shown only now:"
        )
    )
    click.echo(secret)


@assessor.command("tokens")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_obj
def assessor_tokens(ctx: Context, email: str, as_json: bool) -> None:
    """List the API tokens of the assessor EMAIL: number, name, scopes, when made, expires
    and was last used, and whether live, expired or revoked (never the secret)."""
    now = utcnow()
    rows = [_token_facts(t, now) for t in ctx.portal().accounts.tokens(email)]
    if as_json:
        click.echo(json.dumps(rows))
        return
    table = Table("id", "name", "scopes", "created", "expires", "last used", "state")
    for row in rows:
        table.add_row(*plain(*(str(v) if v is not None else "never" for v in row.values())))
    out.print(table)


def _token_facts(token: ApiToken, now: datetime) -> dict[str, str | int | None]:
    used = token.last_used_at
    return {
        "id": token.id,
        "name": token.name,
        "scopes": " ".join(token.scopes),
        "created_at": token.created_at.isoformat(timespec="seconds"),
        "expires_at": token.expires_at.isoformat(timespec="seconds"),
        "last_used_at": used.isoformat(timespec="seconds") if used else None,
        "state": token.state(now),
    }


@assessor.command("revoke-token")
@click.argument("token_id", type=ROW_NUMBER)
@click.pass_obj
def assessor_revoke_token(ctx: Context, token_id: int) -> None:
    """Revoke an API token by its number (see `prodproven assessor tokens EMAIL`). Audited."""
    token = ctx.portal().accounts.revoke_token(operator(), token_id)
    out.print(Text(f"token {token_id} of {token.assessor.email} revoked"))


@click.command()
@click.argument("run_id", metavar="RUN")
@click.option(
    "--out",
    "out_path",
    type=OutFile(),
    required=True,
    help="Where to write the HTML file.",
)
@click.pass_obj
def report(ctx: Context, run_id: str, out_path: Path) -> None:
    """Write the run's detail (scores, evidence, plots, reviews, events) as one
    self-contained HTML file, for a hiring packet."""
    html = render_report(ctx.portal().runs.detail(operator(), run_id))
    write_out(out_path, html)
    out.print(Text(f"report of run {run_id} written to {out_path} ({len(html) // 1024} KiB)"))


PEOPLE_COMMANDS = [serve, invite, assessor, report]
