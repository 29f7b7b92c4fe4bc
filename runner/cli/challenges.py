"""``prodproven challenge`` and ``prodproven images``: list, scaffold, pack, install and
validate challenges, and build the images their runs need."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from prodproven.runner import plugins
from prodproven.runner.cli.context import Context, OutFile, out, plain, progress
from prodproven.runner.gate.validate import Tier, validate_challenge
from prodproven.runner.spec import packs
from prodproven.runner.spec.challenge import (
    Challenge,
    Unloadable,
    challenge_folders,
    list_challenges,
)
from prodproven.runner.spec.parts import about_competency
from prodproven.runner.spec.scaffold import TEMPLATES, new_challenge


@click.group()
def challenge() -> None:
    """List and validate challenges."""


@challenge.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_obj
def challenge_list(ctx: Context, as_json: bool) -> None:
    """List the challenges found in the built-in folder, --challenges-dir folders,
    PRODPROVEN_CHALLENGES_PATH and installed packs; broken ones and ids found in two folders
    are listed with their error."""
    found = list_challenges(ctx.settings.challenge_dirs, plugins.catalog())
    for problem in plugins.plugin_problems():
        click.echo(f"warning: {problem}", err=True)
    rows = [_challenge_row(c) for c in found]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table("id", "title", "version", "time", "competencies")
    for row in rows:
        if "error" in row:
            table.add_row(Text(f"{row['id']} (invalid)", "red"), *plain(row["error"], "", "", ""))
        else:
            table.add_row(
                *plain(
                    row["id"],
                    row["title"],
                    row["version"],
                    f"{row['minutes']:g} min",
                    ", ".join(about_competency(c)[0] for c in row["competencies"]),
                )
            )
    out.print(table)


def _challenge_row(found: Challenge | Unloadable) -> dict[str, Any]:
    if isinstance(found, Unloadable):
        paths = [str(folder) for folder in found.folders]
        return {"id": found.id, "error": found.problem, "path": paths[0], "paths": paths}
    return {
        "id": found.id,
        "title": found.spec.title,
        "version": found.spec.version,
        "minutes": found.spec.time_limit_minutes,
        "competencies": [x.value for x in found.spec.competencies],
        "path": str(found.root),
    }


@challenge.command("new")
@click.argument("name")
@click.option(
    "--from",
    "template",
    type=click.Choice(TEMPLATES),
    default="deploy-model",
    show_default=True,
    help="The built-in challenge to start from.",
)
@click.option(
    "--dir",
    "into",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    help="Folder to create NAME in [default: the current folder].",
)
@click.pass_obj
def challenge_new(ctx: Context, name: str, template: str, into: Path) -> None:
    """Scaffold a new challenge DIR/NAME from a built-in one: a working spec, brief,
    workspace, hidden material, solution and image recipe, ready to adapt."""
    made = new_challenge(name, template, into, plugins.catalog())
    out.print(Text(f"created {made.id} in {made.root} from {template}"))
    out.print(Text(f"next: edit it, then `prodproven challenge validate {made.root}`"))


@challenge.command("pack")
@click.argument("challenge_ref", metavar="CHALLENGE")
@click.option(
    "--out",
    "out_path",
    type=OutFile(),
    help="Where to write it [default: ./ID-VERSION.ppc.tar.gz].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the pack's details as JSON.")
@click.pass_obj
def challenge_pack(ctx: Context, challenge_ref: str, out_path: Path | None, as_json: bool) -> None:
    """Write CHALLENGE (an id or a folder) as one pack file, with its version and every
    file's checksum, to install on another installation with `challenge install`."""
    target = ctx.challenge(challenge_ref)
    info = packs.pack(target, out_path or Path(f"{target.id}-{target.spec.version}.ppc.tar.gz"))
    if as_json:
        click.echo(json.dumps({**vars(info), "path": str(info.path)}))
        return
    out.print(
        Text(f"{info.id} {info.version}: {info.files} files, {info.bytes} bytes in {info.path}")
    )
    out.print(Text(f"sha256 {info.sha256}"))


@challenge.command("install")
@click.argument(
    "pack_file", metavar="FILE", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--force", is_flag=True, help="Install even over a newer installed version.")
@click.option("--json", "as_json", is_flag=True, help="Print what was installed as JSON.")
@click.pass_obj
def challenge_install(ctx: Context, pack_file: Path, force: bool, as_json: bool) -> None:
    """Install a challenge pack into the data directory, where challenges are found by id.
    Every file is checked against the pack's manifest and the spec is loaded first."""
    settings = ctx.settings
    elsewhere = [d for d in settings.challenge_dirs if d != settings.installed_challenges]
    taken = {cid: folders[0] for cid, folders in challenge_folders(elsewhere).items()}
    done = packs.install(
        pack_file, settings.installed_challenges, taken, plugins.catalog(), force=force
    )
    if as_json:
        click.echo(json.dumps({**vars(done), "path": str(done.path)}))
        return
    was = f" (replacing {done.replaced})" if done.replaced else ""
    out.print(Text(f"installed {done.id} {done.version}{was} in {done.path}"))


@challenge.command("validate")
@click.argument("challenge_ref", metavar="CHALLENGE")
@click.option(
    "--tier",
    type=click.Choice([t.value for t in Tier]),
    default=Tier.release.value,
    show_default=True,
    help="release: everything a challenge must pass before it goes live; ci: the reference "
    "against the one fault a scripted run draws, and no noise gradings.",
)
@click.option(
    "--repeats",
    type=click.IntRange(2, 10),
    help="Gradings of the reference archive for the noise check (default: the spec's, 3).",
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 16),
    default=1,
    show_default=True,
    help="Scripted runs at once. More is faster, but timing-sensitive graders (load, "
    "incident) then measure under each other's load.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@click.pass_obj
def challenge_validate(
    ctx: Context, challenge_ref: str, tier: str, repeats: int | None, jobs: int, as_json: bool
) -> None:
    """The gate before a challenge goes live: static checks of its files; the reference
    solution and the untouched starter within their bands; every cheat that applies scores 0
    on the graders it attacks (or raises an integrity finding); the reference graded again
    to measure noise. Exits 1 when any check fails. CHALLENGE is an id or a folder."""
    target = ctx.challenge(challenge_ref)
    for problem in plugins.plugin_problems():
        click.echo(f"warning: {problem}", err=True)
    with progress() as step:
        verdict = validate_challenge(
            ctx.runner(step), target, plugins.cheats(), repeats, jobs, Tier(tier)
        )
    if as_json:
        click.echo(json.dumps(verdict, indent=2))
    else:
        table = Table("step", "check", "verdict", "detail")
        for check in verdict["checks"]:
            if check["skipped"]:
                shown = Text("n/a", "dim")
            else:
                shown = Text("ok", "green") if check["ok"] else Text("FAILED", "red")
            table.add_row(
                Text(check["section"]), Text(check["label"]), shown, Text(check["detail"])
            )
        out.print(table)
        failed = sum(not c["ok"] for c in verdict["checks"])
        name = f"{verdict['challenge']} {verdict['version']}"
        out.print(
            Text(f"{name} is fit to give to candidates", "green")
            if verdict["ok"]
            else Text(
                f"{name} is not fit to give to candidates: {failed} failed "
                f"{'check' if failed == 1 else 'checks'}",
                "red",
            )
        )
    if not verdict["ok"]:
        sys.exit(1)


@click.group()
def images() -> None:
    """Build the images runs need (offline-capable)."""


@images.command("build")
@click.argument("challenge_refs", metavar="[CHALLENGE]...", nargs=-1)
@click.pass_obj
def images_build(ctx: Context, challenge_refs: tuple[str, ...]) -> None:
    """Build the base, runtime, grader, service and challenge images (all challenges by
    default) and generate each challenge's default material."""
    refs = challenge_refs or tuple(
        c.id
        for c in list_challenges(ctx.settings.challenge_dirs, plugins.catalog())
        if isinstance(c, Challenge)
    )
    with progress() as step:
        runner = ctx.runner(step)
        step("grader image")
        tags = [runner.images.runtime(), runner.images.grader()]
        for ref in refs:
            target = ctx.challenge(ref)
            tags.append(runner.challenge_image(target))
            tags += [plan.image for plan in runner.service_plans(target)]
            runner.material(target)
        step("done")
    for tag in tags:
        out.print(Text(tag))
