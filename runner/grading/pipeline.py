"""The grading pipeline, declared as a list of small steps run in order.

Each step takes the job and adds to it. Grading always starts from the archived workspace, so
it can be repeated after a crash or for a noise check, and gives the same inputs every time.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prodproven.graders.base import Grader, GraderError, GradeResult
from prodproven.runner.errors import ProdprovenError
from prodproven.runner.grading.evaluation import Evaluation, EvaluationPlan
from prodproven.runner.grading.requirements import RequirementResult, evaluate
from prodproven.runner.grading.result import RunResult, result_document
from prodproven.runner.grading.scoring import Outcome, Scorecard, combine
from prodproven.runner.grading.slots import SLOT_EVENT, Slot, TimingSlots
from prodproven.runner.grading.uncertainty import Regrading, Uncertainty, of_score
from prodproven.runner.runs.archives import sha256_of
from prodproven.runner.runs.store import Run
from prodproven.runner.similarity import store as similarity
from prodproven.runner.spec.challenge import Challenge
from prodproven.sandbox.errors import ExecTimeout, ServiceNotReady

Reporter = Callable[[str], None]
log = logging.getLogger(__name__)


@dataclass
class GradingJob:
    run: Run
    challenge: Challenge
    plan: EvaluationPlan
    evaluation: Evaluation
    graders: dict[str, type[Grader]]  # type: ignore[type-arg]
    report: Reporter
    event: Callable[[str, dict[str, Any]], None]
    regrading: Regrading | None = None
    """The gate's re-grading spread for this challenge version, when it was measured."""
    timing: TimingSlots | None = None
    """The machine's timing slots (``TimingSlots.of(settings)``); None: take none."""
    extra_minutes: float | None = None
    """Extra time the run was granted (an accommodation), for the result document."""
    slot: Slot | None = None
    """The timing slot held while the evaluation pod is open, when a grader is timed."""
    outcomes: list[Outcome] = field(default_factory=list)
    requirements: list[RequirementResult] = field(default_factory=list)
    card: Scorecard | None = None
    uncertainty: Uncertainty | None = None
    document: RunResult | None = None


class ArchiveMismatch(ProdprovenError):
    """The archive on disk is not the one recorded at submit; grading it would grade
    something the candidate did not submit."""


def verify_archive(job: GradingJob) -> None:
    """The workspace and service archives must be byte-for-byte what was recorded at submit."""
    expected = {str(job.plan.archive): job.run.archive_sha256}
    for service in job.plan.services:
        info = job.plan.service_archives.get(service.name)
        if info is None and service.kind.data_dir:
            raise ArchiveMismatch(
                f"run {job.run.id} has no archive of its {service.name!r} service from submit"
            )
        if info is not None:
            expected[str(info["path"])] = str(info["sha256"])
    for path, sha in expected.items():
        if not Path(path).is_file():
            raise ArchiveMismatch(f"archive {path} of run {job.run.id} is missing")
        digest = sha256_of(Path(path))
        if digest != sha:
            raise ArchiveMismatch(f"archive {path} has sha256 {digest}, expected {sha}")


def timed_graders(job: GradingJob) -> list[str]:
    """The names of the challenge's graders whose kind is timed (``Grader.timed``)."""
    kinds = {spec.name: job.graders.get(spec.kind) for spec in job.challenge.spec.graders}
    return [name for name, kind in kinds.items() if kind is not None and kind.timed]


def take_timing_slot(job: GradingJob) -> None:
    """A grading with a timed grader waits for a timing slot (``slots.py``), then holds it until
    its evaluation pod is closed; one that times nothing takes none. Raises OSError when the
    slots' folder cannot be written."""
    timed = timed_graders(job)
    if job.timing is None or not timed:
        return
    job.slot = job.timing.take(job.report)
    job.event(
        SLOT_EVENT,
        {"slot": job.slot.index, "waited_s": round(job.slot.waited_s, 2), "timed": timed},
    )


def release_timing_slot(job: GradingJob) -> None:
    if job.slot is not None:
        job.slot.release()


def open_evaluation(job: GradingJob) -> None:
    job.report("starting the evaluation pod from the archived workspace")
    job.evaluation.open()


def run_graders(job: GradingJob) -> None:
    for spec in job.challenge.spec.graders:
        job.report(f"grader {spec.name} ({spec.kind})")
        job.evaluation.current_grader = spec.name
        job.event("grader.started", {"grader": spec.name, "kind": spec.kind})
        started = time.monotonic()
        unmet = [o.name for o in job.outcomes if o.name in spec.requires and not o.result.passed]
        if unmet:
            reason = f"not run: it counts only when {', '.join(unmet)} passed, which did not"
            result = GradeResult(
                score=0.0, passed=False, summary=reason, evidence={"requires_unmet": unmet}
            )
        else:
            result = _grade_one(job, spec.kind, spec.params)
        outcome = Outcome(
            spec.name,
            spec.kind,
            spec.competency.value,
            spec.weight,
            result,
            time.monotonic() - started,
        )
        job.event(
            "grader.finished",
            {
                "grader": spec.name,
                "score": result.score,
                "passed": result.passed,
                "summary": result.summary,
            },
        )
        job.outcomes.append(outcome)
        job.evaluation.record_result(spec.name, result)


def _grade_one(job: GradingJob, kind: str, raw_params: dict[str, Any]) -> GradeResult:
    grader_cls = job.graders.get(kind)
    if grader_cls is None:
        return GradeResult.failed(f"no grader of kind {kind!r} is installed")
    try:
        params = grader_cls.Params.model_validate(raw_params)
        return grader_cls().grade(job.evaluation, params)
    except (GraderError, ServiceNotReady, ExecTimeout) as exc:
        return GradeResult.failed(str(exc))
    except Exception as exc:  # a grader bug must cost the grader, not the run
        job.event("grader.crashed", {"grader": kind, "traceback": traceback.format_exc()})
        return GradeResult.failed(f"grader {kind} crashed: {exc.__class__.__name__}: {exc}")


def close_evaluation(job: GradingJob) -> None:
    logs = job.evaluation.service_logs()
    job.event("evaluation.service_logs", {"tail": logs[-8000:]})
    job.evaluation.close()
    release_timing_slot(job)


def judge_requirements(job: GradingJob) -> None:
    spec = job.challenge.spec
    job.requirements = evaluate(
        spec.requirements,
        {o.name: o.result for o in job.outcomes},
        {g.name: g for g in spec.graders},
        job.graders,
    )


def score(job: GradingJob) -> None:
    job.card = combine(job.outcomes, job.requirements, job.challenge.spec.pass_score)
    job.uncertainty = of_score(job.outcomes, job.card.score, job.card.scale, job.regrading)


def build_document(job: GradingJob) -> None:
    assert job.card is not None and job.uncertainty is not None
    job.document = result_document(
        job.run,
        job.challenge.spec,
        job.outcomes,
        job.card,
        job.requirements,
        job.uncertainty,
        job.plan.attempt,
        job.extra_minutes,
    )


def fingerprint(job: GradingJob) -> None:
    """Save the submission's similarity fingerprints (``similarity.ARTIFACT``); evidence for
    people only, so a failure is logged and the run still grades."""
    try:
        doc = similarity.of_archive(job.plan.archive, job.run.archive_sha256 or "")
        job.evaluation.current_grader = "similarity"
        job.evaluation.save_artifact("fingerprints.json", json.dumps(doc).encode())
    except Exception as exc:  # evidence only: it never fails the grading
        log.exception("fingerprinting run %s failed", job.run.id)
        job.event("similarity.failed", {"error": f"{exc.__class__.__name__}: {exc}"})


STEPS: list[Callable[[GradingJob], None]] = [
    verify_archive,
    take_timing_slot,
    open_evaluation,
    run_graders,
    close_evaluation,
    judge_requirements,
    score,
    build_document,
    fingerprint,
]


def grade(job: GradingJob) -> RunResult:
    """Run every step; the evaluation pod is removed and the timing slot released whatever
    happens."""
    try:
        for step in STEPS:
            step(job)
    finally:
        try:
            job.evaluation.close()
        finally:
            release_timing_slot(job)
    assert job.document is not None
    return job.document
