"""``prodproven candidate``: profiles, track records, record links, and forgetting a
candidate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from prodproven.runner.cli.context import Context, OutFile, out, plain, write_out
from prodproven.runner.cli.people import operator
from prodproven.runner.people.track_record import INTERVAL_NOTE
from prodproven.runner.portal.people import CandidateRecord
from prodproven.runner.spec.parts import about_competency


@click.group()
def candidate() -> None:
    """Candidates: their profile, runs and track record per competency."""


@candidate.command("add")
@click.argument("name")
@click.option("--email", help="Their email address.")
@click.option("--external-id", help="Their id in the firm's hiring system.")
@click.pass_obj
def add(ctx: Context, name: str, email: str | None, external_id: str | None) -> None:
    """Make (or complete) the profile of NAME; runs started for NAME belong to it."""
    made = ctx.portal().candidates.add(name, email, external_id)
    out.print(Text(f"candidate {made.name} ({made.id})"))


@candidate.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the profiles as JSON.")
@click.pass_obj
def list_candidates(ctx: Context, as_json: bool) -> None:
    """Every candidate profile."""
    found = ctx.portal().candidates.all()
    if as_json:
        click.echo(json.dumps([_profile(c) for c in found], indent=2, default=str))
        return
    table = Table("name", "email", "external id", "since")
    for c in found:
        table.add_row(
            *plain(c.name, c.email or "", c.external_id or "", f"{c.created_at:%Y-%m-%d}")
        )
    out.print(table)


@candidate.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the profile and record as JSON.")
@click.option(
    "--plot",
    type=OutFile(),
    help="Also write the competencies' history as an SVG chart here.",
)
@click.pass_obj
def show(ctx: Context, name: str, as_json: bool, plot: Path | None) -> None:
    """NAME's graded runs and, per competency, the current value and level (recent evidence
    weighs more; evidence older than PRODPROVEN_VALIDITY_MONTHS no longer counts)."""
    found = ctx.portal().candidates.record(operator(), name)
    if plot is not None and found.runs:
        write_out(plot, found.chart())
    if as_json:
        click.echo(json.dumps(document(found), indent=2, default=str))
        return
    out.print(Text.assemble((found.candidate.name, "bold"), f" {found.candidate.email or ''}"))
    runs = Table("run", "challenge", "status", "score", "graded")
    for run in found.runs:
        score = "" if run.score is None else f"{run.score:.1f}"
        graded = f"{run.graded_at:%Y-%m-%d}" if run.graded_at else ""
        runs.add_row(*plain(run.id, run.challenge_id, run.status.value, score, graded))
    out.print(runs)
    record = Table(
        "competency", "value", "90% interval", "level", "runs counted", "last evidence", "current"
    )
    for competency, (now, _) in found.record.items():
        value = "" if now.value is None else f"{now.value:.1f}"
        band = "" if now.interval is None else f"{now.interval[0]:.1f}–{now.interval[1]:.1f}"
        lapsed = f"lapsed {now.lapsed_at:%Y-%m-%d}"
        current = "yes" if now.value is not None else lapsed
        record.add_row(
            *plain(
                about_competency(competency)[0],
                value,
                f"{band} ({now.band})" if band else "",
                now.level or "",
                str(now.runs),
                f"{now.last_evidence:%Y-%m-%d}",
                current,
            )
        )
    out.print(record)
    out.print(Text(INTERVAL_NOTE, "dim"))


@candidate.command("forget")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def forget(ctx: Context, name: str, yes: bool) -> None:
    """Erase NAME's personal data and workspaces and revoke their credentials; their scores
    stay, anonymous. Recorded in the audit log. Cannot be undone."""
    portal = ctx.portal()
    runs = portal.candidates.runs(operator(), name)  # an unknown name fails before the question
    if not yes:
        click.confirm(
            f"Erase {name}'s name, email, external id, {len(runs)} workspaces, team "
            "memberships and record links, and revoke their credentials? This cannot be undone",
            abort=True,
        )
    done = portal.candidates.forget(operator(), name)
    others = ", ".join(f"{n} {part.replace('_', ' ')}" for part, n in done.others.items())
    out.print(
        Text(
            f"forgot {name}: now {done.alias}; {done.runs} runs anonymised and their workspaces "
            f"erased, {done.credentials} credentials revoked, {done.invitations} invitations "
            f"and {done.messages} emails erased{f'; {others} deleted' if others else ''}"
        )
    )


@candidate.command("share")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the link and its share as JSON.")
@click.pass_obj
def share(ctx: Context, name: str, as_json: bool) -> None:
    """Make NAME's record link, on their behalf: anyone holding it sees their name, credentials
    valid now and current levels (never runs, evidence, emails or notes). Shown only now; NAME's
    previous link stops working."""
    made, link = ctx.portal().candidates.share(operator(), name)
    if as_json:
        document = {"link": link, "share": made.id, "created_at": made.created_at}
        click.echo(json.dumps(document, indent=2, default=str))
        return
    click.echo(link)


@candidate.command("unshare")
@click.argument("name")
@click.pass_obj
def unshare(ctx: Context, name: str) -> None:
    """End NAME's record link: it answers 404 from now on."""
    ended = ctx.portal().candidates.unshare(operator(), name)
    out.print(Text(f"{name}'s record link {ended.id} no longer works"))


def _profile(c: Any) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "email": c.email,
        "external_id": c.external_id,
        "created_at": c.created_at,
        "forgotten_at": c.forgotten_at,
    }


def document(found: CandidateRecord) -> dict[str, Any]:
    """The ``--json`` shape of a candidate's record (also the web API's)."""
    return {
        "candidate": _profile(found.candidate),
        "runs": [
            {
                "run_id": r.id,
                "challenge": r.challenge_id,
                "status": r.status.value,
                "score": r.score,
                "graded_at": r.graded_at,
            }
            for r in found.runs
        ],
        "competencies": {
            name: {
                "value": None if now.value is None else round(now.value, 2),
                "interval": None if now.interval is None else list(now.interval),
                "standard_error": None if now.se is None else round(now.se, 2),
                "effective_runs": round(now.effective_runs, 2),
                "level": now.level,
                "runs_counted": now.runs,
                "last_evidence": now.last_evidence,
                "lapsed_at": now.lapsed_at,
                "current": now.value is not None,
                "history": [{"at": at, "value": round(v, 2)} for at, v in history],
            }
            for name, (now, history) in found.record.items()
        },
    }
