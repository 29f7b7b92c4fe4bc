"""A run's result printed in a terminal (runner/present/console.py): competencies by label."""

from __future__ import annotations

from rich.console import Console

from prodproven.runner.grading.result import RunResult
from prodproven.runner.present.console import render
from tests.unit.resultsupport import grader_entry, result_doc


def test_competencies_are_printed_by_their_labels() -> None:
    doc = result_doc(
        grader_entry("review", 0.9, competency="ai_judgment"),
        score=90.0,
        competencies={"ai_judgment": 90.0},
    )
    console = Console(record=True, width=200)
    render(RunResult.model_validate(doc), console)
    printed = console.export_text()
    assert "judgment applied to AI output 90" in printed
    assert printed.count("judgment applied to AI output") == 2  # the score line and the table
    assert "ai_judgment" not in printed
