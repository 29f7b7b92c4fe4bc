"""The result document of a run: what ``--json`` prints, the store keeps and every page, report
and credential reads (fields documented in docs/json-output.md, which a test holds to
``RunResult``).

It is built in this module only: :func:`result_document` when a run is graded, and
:func:`status_document` for any run (its stored result with the run's current state). The store
keeps it as JSON (``RunResult.stored``); results stored by earlier versions lack the fields
added since, which read as null.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer, ValidationError

from prodproven.graders.base import Finding
from prodproven.runner.errors import ResultUnreadable
from prodproven.runner.grading.requirements import RequirementResult
from prodproven.runner.grading.scoring import FORMULA, Outcome, Scorecard
from prodproven.runner.grading.uncertainty import LEVEL, Uncertainty
from prodproven.runner.runs.store import Run, Status
from prodproven.runner.spec.challenge import ChallengeSpec

Timestamp = Annotated[
    datetime, PlainSerializer(datetime.isoformat, return_type=str, when_used="json")
]
"""A point in time, written as ISO 8601 with its UTC offset."""


class _Document(BaseModel):
    # "ignore": results stored by earlier versions may hold keys since dropped
    model_config = ConfigDict(frozen=True, extra="ignore")


class ScoreUncertainty(_Document):
    sem: float
    interval: tuple[float, float]
    level: float
    basis: str


class GraderEntry(_Document):
    name: str
    kind: str
    competency: str
    score: float
    weight: float
    passed: bool
    sem: float | None = None
    summary: str
    error: str | None = None
    duration_s: float
    evidence: dict[str, Any]


class RunResult(_Document):
    """Every field is always present, null (or empty) where not yet known; what each means is
    in docs/json-output.md."""

    run_id: str
    challenge: str
    challenge_version: str
    challenge_title: str | None = None
    candidate: str
    variant: int | None = None
    status: Status
    passed: bool | None = None
    requirements: list[RequirementResult] = []
    score: float | None = None
    uncertainty: ScoreUncertainty | None = None
    weighted_score: float | None = None
    pass_score: float | None = None
    competencies: dict[str, float] = {}
    formula: str | None = None
    graders: list[GraderEntry] = []
    integrity: list[Finding] = []
    attempt: int | None = None
    archive_sha256: str | None = None
    created_at: Timestamp
    submitted_at: Timestamp | None = None
    graded_at: Timestamp | None = None
    deadline: Timestamp | None = None
    extra_minutes: float | None = None
    error: str | None = None

    def stored(self) -> dict[str, Any]:
        """The document as the store keeps it (JSON types)."""
        return self.model_dump(mode="json")

    def grader(self, name: str) -> GraderEntry | None:
        return next((g for g in self.graders if g.name == name), None)


RESULT_FIELDS = tuple(RunResult.model_fields)
"""Every field of the document, in order."""


def _state(run: Run) -> dict[str, Any]:
    """The fields the run itself holds, current whatever its stored result says."""
    return {
        "run_id": run.id,
        "challenge": run.challenge_id,
        "challenge_version": run.challenge_version,
        "candidate": run.candidate,
        "variant": run.variant,
        "status": run.status,
        "archive_sha256": run.archive_sha256,
        "created_at": run.created_at,
        "submitted_at": run.submitted_at,
        "graded_at": run.graded_at,
        "deadline": run.deadline,
        "error": run.error,
    }


def result_document(
    run: Run,
    spec: ChallengeSpec,
    outcomes: Sequence[Outcome],
    card: Scorecard,
    requirements: Sequence[RequirementResult],
    uncertainty: Uncertainty,
    attempt: int,
    extra_minutes: float | None = None,
) -> RunResult:
    """The graded result of ``run`` (its status already ``graded``); ``extra_minutes`` the
    extra time the run was granted (an accommodation; its ``deadline`` includes it)."""
    return RunResult(
        **_state(replace(run, status=Status.graded)),
        challenge_title=spec.title,
        passed=card.passed,
        requirements=list(requirements),
        score=card.score,
        uncertainty=ScoreUncertainty(
            sem=uncertainty.sem, interval=uncertainty.interval, level=LEVEL, basis=uncertainty.basis
        ),
        weighted_score=card.weighted,
        pass_score=spec.pass_score,
        competencies=card.competencies,
        formula=FORMULA,
        graders=[
            GraderEntry(
                name=o.name,
                kind=o.kind,
                competency=o.competency,
                score=round(o.result.score, 4),
                weight=o.weight,
                passed=o.result.passed,
                sem=o.result.sem,
                summary=o.result.summary,
                error=o.result.error,
                duration_s=round(o.duration_s, 2),
                evidence=o.result.evidence,
            )
            for o in outcomes
        ],
        integrity=[
            f.model_copy(update={"grader": o.name}) for o in outcomes for f in o.result.findings
        ],
        attempt=attempt,
        extra_minutes=extra_minutes,
    )


def status_document(run: Run) -> RunResult:
    """The run's document: its stored result, if any, with the run's current state. Raises
    ResultUnreadable when the stored result does not have the document's shape."""
    try:
        # a listing's cut-down result holds null for what a run graded long ago lacks
        stored = {k: v for k, v in (run.result or {}).items() if v is not None}
        return RunResult.model_validate({**stored, **_state(run)})
    except ValidationError as exc:
        raise ResultUnreadable(f"the stored result of run {run.id} cannot be read: {exc}") from None
