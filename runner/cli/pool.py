"""``prodproven pool``: see and manage the warm pool (``lifecycle/pool.py``)."""

from __future__ import annotations

import json

import click
from rich.table import Table

from prodproven.runner.cli.context import Context, out, plain, progress
from prodproven.runner.config import pool_sizes


@click.group()
def pool() -> None:
    """The warm pool: pods made ahead of any start, per challenge (PRODPROVEN_WARM_POOL), so an
    interactive start takes one and the candidate does not wait for services to boot."""


@pool.command()
@click.argument("challenge_refs", metavar="[CHALLENGE]...", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the run ids of the pods made.")
@click.pass_obj
def fill(ctx: Context, challenge_refs: tuple[str, ...], as_json: bool) -> None:
    """Make warm pods until each CHALLENGE (default: every one PRODPROVEN_WARM_POOL names) has
    its pool size, removing stale ones first. Blocks until they are ready."""
    refs = challenge_refs or tuple(pool_sizes(ctx.settings.warm_pool))
    made: dict[str, list[str]] = {}
    with progress(quiet=as_json) as step:
        runner = ctx.runner(step)
        for ref in refs:
            challenge = ctx.challenge(ref)
            made[challenge.id] = runner.pool.fill(challenge)
    if as_json:
        click.echo(json.dumps(made))
        return
    for challenge_id, run_ids in made.items():
        out.print(f"{challenge_id}: made {len(run_ids)} warm pods")


@pool.command()
@click.option("--json", "as_json", is_flag=True, help="Print the pool as JSON.")
@click.pass_obj
def status(ctx: Context, as_json: bool) -> None:
    """Every warm pod: its challenge and version, its state (filling, ready, claimed) and
    since when; and each challenge's pool size."""
    with progress(quiet=True) as step:
        pods = [pod.as_data() for pod in ctx.runner(step).pool.pods()]
    sizes = pool_sizes(ctx.settings.warm_pool)
    if as_json:
        click.echo(json.dumps({"sizes": sizes, "pods": pods}, indent=2))
        return
    table = Table("run id", "challenge", "version", "state", "since")
    for pod in pods:
        table.add_row(
            *plain(pod["run_id"], pod["challenge"], pod["version"], pod["state"], pod["since"])
        )
    out.print(table)
    out.print(", ".join(f"{name}={size}" for name, size in sizes.items()) or "no pool sizes set")


@pool.command()
@click.argument("challenge_id", metavar="[CHALLENGE]", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the run ids of the pods removed.")
@click.pass_obj
def drain(ctx: Context, challenge_id: str | None, as_json: bool) -> None:
    """Remove every ready warm pod (of CHALLENGE, an id), and the stale ones; the next start
    refills the pool when PRODPROVEN_WARM_POOL still names the challenge."""
    with progress(quiet=True) as step:
        runner = ctx.runner(step)
        removed = sorted({*runner.pool.sweep(), *runner.pool.drain(challenge_id)})
    if as_json:
        click.echo(json.dumps(removed))
        return
    out.print(f"removed {len(removed)} warm pods")
