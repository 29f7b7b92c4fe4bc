"""The result document of a run (what ``--json`` prints and the store keeps) and its
rendering for people."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prodproven.runner.grading.requirements import RequirementResult
from prodproven.runner.grading.scoring import FORMULA, Outcome, Scorecard
from prodproven.runner.grading.uncertainty import Uncertainty
from prodproven.runner.present import verdict
from prodproven.runner.runs.store import Run
from prodproven.runner.spec.challenge import ChallengeSpec
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

RESULT_FIELDS = (
    "run_id",
    "challenge",
    "status",
    "passed",
    "requirements",
    "score",
    "uncertainty",
    "weighted_score",
    "pass_score",
    "competencies",
    "graders",
    "integrity",
)


def result_document(
    run: Run,
    spec: ChallengeSpec,
    outcomes: Sequence[Outcome],
    card: Scorecard,
    requirements: Sequence[RequirementResult],
    uncertainty: Uncertainty,
    attempt: int,
) -> dict[str, Any]:
    """The graded result; fields are documented in docs/json-output.md."""
    return {
        "run_id": run.id,
        "challenge": run.challenge_id,
        "challenge_version": run.challenge_version,
        "challenge_title": spec.title,
        "candidate": run.candidate,
        "status": "graded",
        "passed": card.passed,
        "requirements": [r.as_dict() for r in requirements],
        "score": card.score,
        "uncertainty": uncertainty.as_dict(),
        "weighted_score": card.weighted,
        "pass_score": spec.pass_score,
        "competencies": card.competencies,
        "formula": FORMULA,
        "graders": [
            {
                "name": o.name,
                "kind": o.kind,
                "competency": o.competency,
                "score": round(o.result.score, 4),
                "weight": o.weight,
                "passed": o.result.passed,
                "sem": o.result.sem,
                "summary": o.result.summary,
                "error": o.result.error,
                "duration_s": round(o.duration_s, 2),
                "evidence": o.result.evidence,
            }
            for o in outcomes
        ],
        "integrity": [
            {**f.model_dump(), "grader": o.name} for o in outcomes for f in o.result.findings
        ],
        "attempt": attempt,
        "archive_sha256": run.archive_sha256,
        "created_at": run.created_at.isoformat(),
        "submitted_at": run.submitted_at.isoformat() if run.submitted_at else None,
    }


def status_document(run: Run) -> dict[str, Any]:
    """What ``show --json`` prints: the stored result when graded, else the run's state."""
    doc: dict[str, Any] = dict(run.result or {})
    doc.update(
        {
            "run_id": run.id,
            "challenge": run.challenge_id,
            "status": run.status.value,
            "candidate": run.candidate,
            "variant": run.variant,
            "deadline": run.deadline.isoformat() if run.deadline else None,
            "graded_at": run.graded_at.isoformat() if run.graded_at else None,
            "error": run.error,
        }
    )
    doc.setdefault("passed", None)
    doc.setdefault("requirements", [])
    doc.setdefault("score", None)
    doc.setdefault("uncertainty", None)
    doc.setdefault("weighted_score", None)
    doc.setdefault("pass_score", None)
    doc.setdefault("competencies", {})
    doc.setdefault("graders", [])
    doc.setdefault("integrity", [])
    return doc


def render(doc: dict[str, Any], console: Console) -> None:
    """Print a run's result for people: score, competencies, each grader with its evidence."""
    status = doc["status"]
    head = Text.assemble(
        (f"run {doc['run_id']}", "bold"),
        f"  {doc['challenge']}  candidate {doc['candidate']}  ",
        (status, "green" if status == "graded" else "yellow" if status != "errored" else "red"),
    )
    if doc.get("score") is None:
        console.print(
            Panel(Group(head, Text(doc.get("error") or "not graded yet")), title="prodproven")
        )
        return
    competencies = "   ".join(f"{k} {v:.0f}" for k, v in doc["competencies"].items())
    score = Text(f"production-proven score {doc['score']:.1f} / 100", style="bold")
    uncertainty = doc.get("uncertainty")
    if uncertainty:
        low, high = uncertainty["interval"]
        score.append(f"   90% interval {low:.1f} to {high:.1f}", style="dim")
    console.print(
        Panel(
            Group(
                head,
                *verdict_lines(doc),
                score,
                Text(competencies),
                Text(doc["formula"], style="dim"),
            ),
            title="prodproven",
        )
    )
    table = Table(show_lines=False, expand=True)
    for column in ("grader", "competency", "weight", "score", "passed", "summary"):
        table.add_column(column, overflow="fold")
    for g in doc["graders"]:
        table.add_row(
            g["name"],
            g["competency"],
            f"{g['weight']:g}",
            f"{g['score']:.2f}",
            "yes" if g["passed"] else "[red]no[/red]",
            g["summary"],
        )
    console.print(table)
    for g in doc["graders"]:
        lines = [
            f"  {k}: {_short(v)}" for k, v in g["evidence"].items() if k not in ("series", "tests")
        ]
        console.print(f"[bold]{g['name']}[/bold] evidence\n" + "\n".join(lines))
    for finding in doc["integrity"]:
        console.print(f"[red]integrity[/red] {finding['grader']}: {finding['message']}")


def verdict_lines(doc: dict[str, Any]) -> list[Text]:
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
