"""``prodproven role``: a firm's role profiles and competency frameworks as YAML files
(docs/teams.md#frameworks-and-role-profiles): list them, show one as YAML (an export ``apply``
takes back), apply a file, delete one. The operator acts for ``--firm``, by default the
installation's ``firm`` setting."""

from __future__ import annotations

import json
from pathlib import Path

import click
import yaml
from pydantic import BaseModel
from rich.table import Table

from prodproven.runner.cli.context import Context, out, plain
from prodproven.runner.cli.people import operator
from prodproven.runner.spec.framework import Framework

FIRM = click.option("--firm", help="The firm acted for (default: the `firm` setting).")
FRAMEWORK = click.option(
    "--framework", "framework_id", metavar="ID", help="A framework instead of a role profile."
)


@click.group()
def role() -> None:
    """Role profiles (required levels per competency) and the competency frameworks they use."""


@role.command("list")
@FIRM
@click.option("--json", "as_json", is_flag=True, help="Print them as one JSON object.")
@click.pass_obj
def list_roles(ctx: Context, firm: str | None, as_json: bool) -> None:
    """The firm's role profiles and frameworks (the built-in one first)."""
    desk = ctx.portal().frameworks
    profiles, frameworks = desk.profiles(operator(), firm), desk.frameworks(operator(), firm)
    if as_json:
        doc = {
            "firm": desk.firm(operator(), firm),
            "role_profiles": [p.model_dump(mode="json") for p in profiles],
            "frameworks": [f.model_dump(mode="json") for f in frameworks],
        }
        click.echo(json.dumps(doc, indent=2))
        return
    roles = Table("role profile", "framework", "requires")
    for p in profiles:
        needs = ", ".join(f"{c} {level}" for c, level in p.requires.items())
        roles.add_row(*plain(p.name, p.framework, needs))
    out.print(roles if profiles else "no role profiles yet: `prodproven role apply FILE`")
    table = Table("framework", "name", "competencies")
    for f in frameworks:
        table.add_row(*plain(f.id, f.name, ", ".join(c.id for c in f.competencies)))
    out.print(table)


@role.command("show")
@click.argument("name", required=False)
@FRAMEWORK
@FIRM
@click.pass_obj
def show(ctx: Context, name: str | None, framework_id: str | None, firm: str | None) -> None:
    """Print role profile NAME (or with --framework, a framework) as YAML."""
    desk = ctx.portal().frameworks
    found: BaseModel
    if framework_id is not None:
        found = desk.framework(operator(), framework_id, firm)
    else:
        found = desk.profile(operator(), _named(name), firm)
    click.echo(yaml.safe_dump(found.model_dump(mode="json"), sort_keys=False), nl=False)


@role.command("apply")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@FIRM
@click.pass_obj
def apply(ctx: Context, file: Path, firm: str | None) -> None:
    """Add or replace the role profile or framework (a file with `competencies`) in FILE."""
    saved = ctx.portal().frameworks.apply(operator(), file, firm)
    what = f"framework {saved.id}" if isinstance(saved, Framework) else f"role profile {saved.name}"
    out.print(*plain(f"saved {what}"))


@role.command("delete")
@click.argument("name", required=False)
@FRAMEWORK
@FIRM
@click.pass_obj
def delete(ctx: Context, name: str | None, framework_id: str | None, firm: str | None) -> None:
    """Delete role profile NAME (or with --framework, a framework no role profile uses)."""
    desk = ctx.portal().frameworks
    if framework_id is not None:
        desk.delete_framework(operator(), framework_id, firm)
        out.print(*plain(f"deleted framework {framework_id}"))
        return
    desk.delete_profile(operator(), _named(name), firm)
    out.print(*plain(f"deleted role profile {name}"))


def _named(name: str | None) -> str:
    if name is None:
        raise click.UsageError("name a role profile, or a framework with --framework ID")
    return name
