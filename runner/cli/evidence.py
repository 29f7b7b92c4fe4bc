"""``prodproven evidence``: the work-process evidence of runs (docs/evidence.md); ``expire``
deletes the recordings and timelines kept past ``PRODPROVEN_EVIDENCE_RETENTION_DAYS``
(runner/runs/retention.py), for cron and for operators."""

from __future__ import annotations

import json

import click
from rich.table import Table

from prodproven.runner.cli.context import Context, err, out, plain
from prodproven.runner.runs import retention
from prodproven.runner.runs.store import utcnow


@click.group()
def evidence() -> None:
    """Work-process evidence: terminal recordings, cell logs and workspace timelines."""


@evidence.command("expire")
@click.option(
    "--days",
    type=click.IntRange(1, 36500),
    help="Expire after N days instead of PRODPROVEN_EVIDENCE_RETENTION_DAYS.",
)
@click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print what was removed as JSON.")
@click.pass_obj
def expire(ctx: Context, days: int | None, dry_run: bool, as_json: bool) -> None:
    """Delete the recordings and workspace timeline of every finished run whose work ended
    (its submit, else its error or cancel) more than N days ago, each after the run's event
    evidence.expired; the grade, result, archives and event log stay. The web app and the
    supervisor do this hourly themselves when PRODPROVEN_EVIDENCE_RETENTION_DAYS is set."""
    keep = days or ctx.settings.evidence_retention_days
    if not keep:
        err.print(
            "PRODPROVEN_EVIDENCE_RETENTION_DAYS is 0 (kept as long as the run) and no --days: "
            "nothing expired"
        )
    found = retention.expire(ctx.store(), ctx.settings.data_dir, keep, utcnow(), dry_run=dry_run)
    if as_json:
        doc = {"days": keep, "dry_run": dry_run, "expired": [e.as_data() for e in found]}
        click.echo(json.dumps(doc, indent=2))
        return
    if not keep:
        return
    verb = "would remove" if dry_run else "removed"
    size = sum(e.bytes for e in found)
    out.print(
        f"{verb} the evidence of {len(found)} run{'' if len(found) == 1 else 's'} "
        f"({size / 2**20:.1f} MiB) kept past {keep} days"
    )
    if found:
        table = Table("run", "work ended", "removed", "files", "bytes")
        for e in found:
            ended = e.ended.strftime("%Y-%m-%d %H:%M UTC")
            table.add_row(*plain(e.run_id, ended, ", ".join(e.removed), str(e.files), str(e.bytes)))
        out.print(table)
