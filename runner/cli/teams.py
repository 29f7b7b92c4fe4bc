"""``prodproven team`` and ``prodproven candidate gaps``: a firm's teams, their members'
standings per competency (a table, JSON or CSV), and a person's skill gaps against a role
profile (docs/teams.md#teams-and-skill-gaps). The operator acts for ``--firm``, by default the
installation's ``firm`` setting."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click
from rich.table import Table

from prodproven.runner.cli.context import Context, OutFile, out, plain, write_out
from prodproven.runner.cli.people import operator
from prodproven.runner.people.teams import Team
from prodproven.runner.portal.teams import Cell

FIRM = click.option("--firm", help="The firm acted for (default: the `firm` setting).")
JSON = click.option("--json", "as_json", is_flag=True, help="Print it as JSON.")


@click.group()
def team() -> None:
    """Teams: people grouped by an assessor, with the role profiles they are held against."""


@team.command("create")
@click.argument("name")
@click.option("--role", "roles", multiple=True, metavar="PROFILE", help="A role profile (repeat).")
@click.option("--description", default="", help="What the team is.")
@FIRM
@click.pass_obj
def create(
    ctx: Context, name: str, roles: tuple[str, ...], description: str, firm: str | None
) -> None:
    """Add team NAME, or set an existing team's role profiles and description (its members
    stay)."""
    saved = ctx.portal().teams.save(operator(), name, roles, description, firm)
    out.print(*plain(f"saved team {saved.name} ({len(saved.members)} members)"))


@team.command("add")
@click.argument("name")
@click.argument("members", nargs=-1, required=True)
@FIRM
@click.pass_obj
def add(ctx: Context, name: str, members: tuple[str, ...], firm: str | None) -> None:
    """Add candidates MEMBERS (names) to team NAME."""
    found = ctx.portal().teams.add(operator(), name, members, firm)
    out.print(*plain(f"team {found.name}: {', '.join(found.members)}"))


@team.command("remove")
@click.argument("name")
@click.argument("members", nargs=-1, required=True)
@FIRM
@click.pass_obj
def remove(ctx: Context, name: str, members: tuple[str, ...], firm: str | None) -> None:
    """Remove candidates MEMBERS (names) from team NAME."""
    found = ctx.portal().teams.remove(operator(), name, members, firm)
    out.print(*plain(f"team {found.name}: {', '.join(found.members) or 'no members'}"))


@team.command("list")
@FIRM
@JSON
@click.pass_obj
def list_teams(ctx: Context, firm: str | None, as_json: bool) -> None:
    """The firm's teams."""
    found = ctx.portal().teams.teams(operator(), firm)
    if as_json:
        click.echo(json.dumps([_team(t) for t in found], indent=2))
        return
    table = Table("team", "members", "role profiles", "description")
    for t in found:
        table.add_row(
            *plain(t.name, str(len(t.members)), ", ".join(t.role_profiles), t.description)
        )
    out.print(table if found else "no teams yet: `prodproven team create NAME`")


@team.command("show")
@click.argument("name")
@FIRM
@JSON
@click.option("--csv", "csv_file", type=OutFile(), help="Also write the standings as CSV here.")
@click.pass_obj
def show(ctx: Context, name: str, firm: str | None, as_json: bool, csv_file: Path | None) -> None:
    """Team NAME's members by competency: level (value) when current, else when it lapsed or
    that it was never measured."""
    grid = ctx.portal().teams.grid(operator(), name, firm)
    if csv_file is not None:
        write_out(csv_file, grid.csv())
    if as_json:
        cells = {m: [asdict(c) for c in cells] for m, cells in grid.cells.items()}
        doc = {"team": _team(grid.team), "competencies": grid.competencies, "cells": cells}
        click.echo(json.dumps(doc, indent=2, default=str))
        return
    t = grid.team
    out.print(*plain(f"team {t.name}; role profiles: {', '.join(t.role_profiles) or 'none'}"))
    table = Table("member", *grid.competencies)
    for member, row in grid.cells.items():
        table.add_row(*plain(member, *(_shown(c) for c in row)))
    out.print(table if grid.cells else "no members yet: `prodproven team add NAME MEMBER...`")


@click.command("gaps")
@click.argument("name")
@click.option("--role", required=True, metavar="PROFILE", help="The role profile to hold to.")
@FIRM
@JSON
@click.pass_obj
def gaps(ctx: Context, name: str, role: str, firm: str | None, as_json: bool) -> None:
    """NAME's skill gaps against role profile PROFILE: competencies missing, lapsed or below
    the required level, each with the challenges that measure it."""
    found = ctx.portal().teams.gaps(operator(), name, role, firm)
    if as_json:
        click.echo(json.dumps(asdict(found), indent=2, default=str))
        return
    if not found.gaps:
        out.print(*plain(f"{found.candidate} meets every level of {found.role_profile}"))
        return
    table = Table("competency", "required", "now", "gap", "challenges that measure it")
    for g in found.gaps:
        challenges = ", ".join(g.challenges) or "none installed"
        table.add_row(*plain(g.label, str(g.required), _shown(g.cell), g.kind, challenges))
    out.print(*plain(f"{found.candidate} against {found.role_profile}"))
    out.print(table)


def _team(t: Team) -> dict[str, object]:
    return {**asdict(t), "updated_at": t.updated_at.isoformat()}


def _shown(cell: Cell) -> str:
    if cell.state == "never measured":
        return "never measured"
    if cell.state == "lapsed":
        return f"lapsed {cell.lapsed_at:%Y-%m-%d}"
    value = "" if cell.value is None else f" ({cell.value:.0f})"
    return f"{cell.level or '-'}{value}"
