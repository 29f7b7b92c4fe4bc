"""The notebook grader's verdicts on notebooks it cannot run (no kernel is started for these;
re-execution is covered in tests/integration/test_mlflow_and_notebooks.py)."""

from __future__ import annotations

from typing import Any

from prodproven.graders.base import GradeResult
from prodproven.graders.notebook import Expectation, NotebookGrader, NotebookParams

PARAMS = NotebookParams(
    path="analysis.ipynb", expectations=[Expectation(tag="answer", truth="truth.json")]
)


class NoKernelEnv:
    """Serves one workspace file; any attempt to start a kernel fails the test."""

    def __init__(self, content: bytes | None) -> None:
        self.content = content

    def workspace_file(self, rel: str, *, max_bytes: int = 0) -> bytes | None:
        return self.content

    def serve_tester(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no kernel should start for this notebook")


def grade(content: bytes | None) -> GradeResult:
    # NoKernelEnv has only the parts of the grading environment this grader reads
    return NotebookGrader().grade(NoKernelEnv(content), PARAMS)  # type: ignore[arg-type]


def test_a_missing_notebook_scores_zero_with_a_finding() -> None:
    result = grade(None)
    assert (result.score, result.error) == (0.0, None)
    assert [f.kind for f in result.findings] == ["notebook_missing"]


def test_a_file_that_is_not_json_is_an_invalid_notebook() -> None:
    result = grade(b"{ not json")
    assert result.score == 0.0 and "is not a valid notebook" in result.summary
    assert [f.kind for f in result.findings] == ["notebook_invalid"]


def test_json_that_breaks_the_notebook_schema_is_an_invalid_notebook() -> None:
    result = grade(b'{"nbformat": 4, "nbformat_minor": 5, "cells": [{"cell_type": "code"}]}')
    assert [f.kind for f in result.findings] == ["notebook_invalid"]
