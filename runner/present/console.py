"""A run's result document printed for people in a terminal (``--json`` prints it as JSON)."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from prodproven.runner.grading.result import RunResult
from prodproven.runner.present import verdict
from prodproven.runner.runs.store import Status
from prodproven.runner.spec.parts import about_competency

STATUS_STYLES = {Status.graded: "green", Status.errored: "red", Status.cancelled: "dim"}


def render(doc: RunResult, console: Console) -> None:
    """Print a run's result: score, competencies, each grader with its evidence."""
    head = Text.assemble(
        (f"run {doc.run_id}", "bold"),
        f"  {doc.challenge}  candidate {doc.candidate}  ",
        (doc.status.value, STATUS_STYLES.get(doc.status, "yellow")),
    )
    if doc.score is None:
        console.print(Panel(Group(head, Text(doc.error or "not graded yet")), title="prodproven"))
        return
    competencies = "   ".join(
        f"{about_competency(k)[0]} {v:.0f}" for k, v in doc.competencies.items()
    )
    score = Text(f"production-proven score {doc.score:.1f} / 100", style="bold")
    if doc.uncertainty:
        low, high = doc.uncertainty.interval
        score.append(f"   90% interval {low:.1f} to {high:.1f}", style="dim")
    console.print(
        Panel(
            Group(
                head,
                *verdict_lines(doc),
                score,
                Text(competencies),
                Text(doc.formula or "", style="dim"),
            ),
            title="prodproven",
        )
    )
    table = Table(show_lines=False, expand=True)
    for column in ("grader", "competency", "weight", "score", "passed", "summary"):
        table.add_column(column, overflow="fold")
    for g in doc.graders:
        table.add_row(
            Text(g.name),
            Text(about_competency(g.competency)[0]),
            f"{g.weight:g}",
            f"{g.score:.2f}",
            Text("yes") if g.passed else Text("no", "red"),
            Text(g.summary),
        )
    console.print(table)
    for g in doc.graders:
        shown = {k: v for k, v in g.evidence.items() if k not in ("series", "tests")}
        lines = [f"  {k}: {_short(v)}" for k, v in shown.items()]
        console.print(Text.assemble((g.name, "bold"), " evidence\n", "\n".join(lines)))
    for finding in doc.integrity:
        console.print(Text.assemble(("integrity", "red"), f" {finding.grader}: {finding.message}"))


def verdict_lines(doc: RunResult) -> list[Text]:
    """The verdict first: passed or not and why, then each requirement with its numbers
    (plain text: details are measurements, never markup)."""
    found = verdict.of(doc)
    style = {verdict.PASSED: "bold green", verdict.NOT_PASSED: "bold red"}.get(
        found.state, "bold yellow"
    )
    head = Text(found.label, style=style)
    head.append(f" {found.reason}")
    lines = [head]
    for r in found.requirements:
        mark = Text("  ✓ " if r.met else "  ✗ ", style="green" if r.met else "red")
        mark.append(f"{r.name}: ", style="bold")
        mark.append(r.detail)
        if r.borderline:
            mark.append(" [borderline]", style="yellow")
        lines.append(mark)
    return lines


def _short(value: Any, limit: int = 160) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
