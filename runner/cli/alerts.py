"""``prodproven alerts RUN``: the on-call alerts a run's prober raised (runner/runs/alerts.py),
and ``--ack`` to acknowledge the open one for the candidate."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime

import click
from rich.table import Table

from prodproven.graders.slo import Alert
from prodproven.runner.cli.context import Context, out, plain
from prodproven.runner.cli.people import operator


def _clock(unix: float | None) -> str:
    return "-" if unix is None else datetime.fromtimestamp(unix, UTC).strftime("%H:%M:%S UTC")


@click.command()
@click.argument("run_id", metavar="RUN")
@click.option("--ack", is_flag=True, help="Acknowledge the open alert (as the operator).")
@click.option("--json", "as_json", is_flag=True, help="Print the alerts as one JSON object.")
@click.pass_obj
def alerts(ctx: Context, run_id: str, ack: bool, as_json: bool) -> None:
    """Show the alerts that paged a run's candidate: when each fired, what it said, when it was
    acknowledged and resolved. The open one (not resolved) is marked."""
    oncall = ctx.portal().oncall
    if ack:
        oncall.acknowledge(operator(), run_id)
    found: list[Alert] = oncall.of_run(operator(), run_id)
    opened = found[-1].id if found and found[-1].resolved_at is None else None
    if as_json:
        doc = {"run": run_id, "open": opened, "alerts": [asdict(a) for a in found]}
        click.echo(json.dumps(doc, indent=2))
        return
    if not found:
        out.print(f"run {run_id}: no alert fired")
        return
    table = Table("alert", "fired", "acknowledged", "resolved", "symptom")
    for alert in found:
        name = f"{alert.id} (open)" if alert.id == opened else alert.id
        acked = _clock(alert.acknowledged_at)
        if alert.acknowledged_by:
            acked += f" by {alert.acknowledged_by}"
        table.add_row(
            *plain(name, _clock(alert.fired_at), acked, _clock(alert.resolved_at), alert.symptom)
        )
    out.print(table)
