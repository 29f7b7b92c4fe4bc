"""The grading pipeline's grader step: graders run in spec order, and one that ``requires``
another counts only when that one passed."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pydantic import Field

from graders.base import Grader, GradeResult, Params
from runner.challenge import Challenge, ChallengeSpec
from runner.grading import GradingJob, run_graders


class FixedParams(Params):
    score: float = Field(1.0, description="the score to return")


class FixedGrader(Grader[FixedParams]):
    kind = "fixed"
    description = "Returns the score it is given; passes at 0.5."
    Params = FixedParams
    graded: list[float] = []

    def grade(self, env: Any, params: FixedParams) -> GradeResult:
        FixedGrader.graded.append(params.score)
        return GradeResult(score=params.score, passed=params.score >= 0.5, summary="fixed")


def grade(*graders: dict[str, Any]) -> list[GradeResult]:
    spec = ChallengeSpec.model_validate(
        {
            "id": "fixed",
            "title": "Fixed scores",
            "version": "1.0.0",
            "time_limit_minutes": 10,
            "competencies": ["deployment"],
            "graders": [
                {"kind": "fixed", "competency": "deployment", **grader} for grader in graders
            ],
        }
    )
    FixedGrader.graded = []
    job = GradingJob(
        run=None,  # type: ignore[arg-type]
        challenge=Challenge(spec=spec, root=Path(".")),
        plan=None,  # type: ignore[arg-type]
        evaluation=SimpleNamespace(current_grader=""),  # type: ignore[arg-type]
        graders={"fixed": FixedGrader},
        report=lambda line: None,
        event=lambda kind, data: None,
    )
    run_graders(job)
    return [outcome.result for outcome in job.outcomes]


def test_a_grader_whose_requirement_passed_is_run():
    results = grade(
        {"name": "right", "params": {"score": 1.0}},
        {"name": "fast", "params": {"score": 0.8}, "requires": ["right"]},
    )
    assert [r.score for r in results] == [1.0, 0.8]


def test_a_grader_whose_requirement_failed_is_not_run_and_scores_zero():
    results = grade(
        {"name": "right", "params": {"score": 0.2}},
        {"name": "fast", "params": {"score": 0.8}, "requires": ["right"]},
    )
    assert FixedGrader.graded == [0.2]
    assert (results[1].score, results[1].passed) == (0.0, False)
    assert results[1].summary == "not run: it counts only when right passed, which did not"
    assert results[1].evidence == {"requires_unmet": ["right"]}
