"""The grading pipeline: graders run in spec order, one that ``requires`` another counts only
when that one passed; requirements are judged, the score capped and the document built."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pydantic import Field

from prodproven.graders.base import Grader, GradeResult, Params
from prodproven.runner.grading.pipeline import (
    GradingJob,
    build_document,
    judge_requirements,
    run_graders,
    score,
)
from prodproven.runner.runs.store import Run, Status, utcnow
from prodproven.runner.spec.challenge import Challenge, ChallengeSpec


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


RUN = Run(
    id="r1",
    challenge_id="fixed",
    challenge_version="1.0.0",
    challenge_path="",
    candidate="ada",
    mode="scripted",
    variant=None,
    status=Status.grading,
    created_at=utcnow(),
    deadline=None,
    submitted_at=utcnow(),
    graded_at=None,
    archive_path="/x.tar",
    archive_sha256="0" * 64,
    service_archives=None,
    score=None,
    result=None,
    error=None,
    grading_attempts=1,
)


RECORDED: list[str] = []
"""The graders whose results the pipeline handed to the evaluation, in order."""


def job_for(*graders: dict[str, Any], requirements: Sequence[dict[str, Any]] = ()) -> GradingJob:
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
            "requirements": list(requirements),
        }
    )
    FixedGrader.graded = []
    return GradingJob(
        run=RUN,
        challenge=Challenge(spec=spec, root=Path(".")),
        # FixedGrader reaches no container: of the plan and the evaluation the pipeline reads
        # only these attributes
        plan=SimpleNamespace(attempt=1),  # type: ignore[arg-type]
        evaluation=SimpleNamespace(  # type: ignore[arg-type]
            current_grader="", record_result=lambda name, result: RECORDED.append(name)
        ),
        graders={"fixed": FixedGrader},
        report=lambda line: None,
        event=lambda kind, data: None,
    )


def grade(*graders: dict[str, Any]) -> list[GradeResult]:
    job = job_for(*graders)
    run_graders(job)
    return [outcome.result for outcome in job.outcomes]


def document(*graders: dict[str, Any], requirements: list[dict[str, Any]]) -> dict[str, Any]:
    """The result document the pipeline's last steps build from these graders."""
    job = job_for(*graders, requirements=requirements)
    for step in (run_graders, judge_requirements, score, build_document):
        step(job)
    assert job.document is not None
    return job.document.stored()


def test_a_grader_whose_requirement_passed_is_run() -> None:
    results = grade(
        {"name": "right", "params": {"score": 1.0}},
        {"name": "fast", "params": {"score": 0.8}, "requires": ["right"]},
    )
    assert [r.score for r in results] == [1.0, 0.8]


def test_each_finished_result_is_handed_to_the_evaluation_for_later_graders() -> None:
    RECORDED.clear()
    grade({"name": "first", "params": {"score": 0.2}}, {"name": "second", "requires": ["first"]})
    assert RECORDED == ["first", "second"]


def test_a_grader_whose_requirement_failed_is_not_run_and_scores_zero() -> None:
    results = grade(
        {"name": "right", "params": {"score": 0.2}},
        {"name": "fast", "params": {"score": 0.8}, "requires": ["right"]},
    )
    assert FixedGrader.graded == [0.2]
    assert (results[1].score, results[1].passed) == (0.0, False)
    assert results[1].summary == "not run: it counts only when right passed, which did not"
    assert results[1].evidence == {"requires_unmet": ["right"]}


def test_a_run_meeting_every_requirement_passes_with_its_verdicts_listed() -> None:
    doc = document(
        {"name": "right", "params": {"score": 0.9}},
        requirements=[{"name": "Answers match", "grader": "right"}],
    )
    assert doc["passed"] is True and doc["score"] == 90.0 and doc["weighted_score"] == 90.0
    assert doc["requirements"] == [
        {
            "name": "Answers match",
            "grader": "right",
            "condition": "passed",
            "met": True,
            "borderline": False,
            "detail": "fixed",
        }
    ]


def test_a_missed_requirement_fails_the_run_and_caps_its_score_below_the_pass_score() -> None:
    doc = document(
        {"name": "right", "params": {"score": 1.0}},
        {"name": "safe", "params": {"score": 0.4}},
        requirements=[{"name": "Input handled safely", "grader": "safe"}],
    )
    assert doc["passed"] is False and doc["weighted_score"] == 70.0
    assert doc["score"] == round(70.0 * 0.9 * 70 / 100, 1) < doc["pass_score"] == 70
    assert [r["met"] for r in doc["requirements"]] == [False]


def test_every_graded_document_carries_its_uncertainty() -> None:
    doc = document({"name": "right", "params": {"score": 1.0}}, requirements=[])
    assert doc["uncertainty"]["level"] == 0.9
    assert doc["uncertainty"]["interval"] == [100.0, 100.0]
    assert doc["uncertainty"]["basis"].startswith("no repeated measurement")
