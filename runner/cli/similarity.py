"""``prodproven similarity``: the flagged pairs of a challenge's graded submissions
(runner/similarity/, docs/evidence.md)."""

from __future__ import annotations

import json
from dataclasses import asdict

import click
from rich.table import Table

from prodproven.runner.cli.context import Context, out, plain, progress
from prodproven.runner.similarity import compare
from prodproven.runner.similarity import store as similarity


@click.command("similarity")
@click.argument("challenge_ref", metavar="CHALLENGE")
@click.option("--json", "as_json", is_flag=True, help="Print the pairs and their regions as JSON.")
@click.option(
    "--threshold",
    type=click.FloatRange(0.0, 1.0),
    default=compare.THRESHOLD,
    show_default=True,
    help="Flag pairs sharing at least this share of the smaller submission's fingerprints.",
)
@click.pass_obj
def similarity_command(ctx: Context, challenge_ref: str, as_json: bool, threshold: float) -> None:
    """The pairs of CHALLENGE's graded submissions (every firm's) whose code and notebooks are
    near-identical once the starter is taken out, most similar first: evidence for a person to
    judge, never a penalty."""
    challenge = ctx.challenge(challenge_ref)
    with progress(quiet=as_json) as step:
        runner = ctx.runner(step)
        step(f"comparing the graded submissions of {challenge.id}")
        pairs = similarity.challenge_pairs(
            runner.store,
            challenge.id,
            similarity.starter_from(runner.provisioner),
            threshold=threshold,
        )
    if as_json:
        click.echo(json.dumps([asdict(p) for p in pairs], indent=2))
        return
    if not pairs:
        out.print(f"no pair of {challenge.id}'s graded submissions reaches {threshold:.0%}")
        return
    table = Table("run", "run", "similarity", "shared", "files")
    for p in pairs:
        files = ", ".join(sorted({m.path_a for m in p.matches}))
        table.add_row(*plain(p.run_a, p.run_b, f"{p.score:.0%}", str(p.shared), files))
    out.print(table)
