"""The grading pipeline: graders run in spec order, one that ``requires`` another counts only
when that one passed; requirements are judged, the score capped and the document built. A
grading with a timed grader holds a timing slot while its evaluation pod is open."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import Field

from prodproven.graders import builtin
from prodproven.graders.base import Grader, GradeResult, Params
from prodproven.runner.grading import pipeline
from prodproven.runner.grading.pipeline import (
    GradingJob,
    build_document,
    judge_requirements,
    run_graders,
    score,
)
from prodproven.runner.grading.slots import TimingSlots
from prodproven.runner.runs.store import Run, Status, utcnow
from prodproven.runner.spec.challenge import Challenge, ChallengeSpec
from prodproven.sandbox.errors import ContainerError


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


class TimedGrader(FixedGrader):
    kind = "timed"
    description = "A fixed score, declared as measured on the clock."
    timed = True


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
        graders={"fixed": FixedGrader, "timed": TimedGrader},
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


def test_a_graded_document_carries_the_extra_time_the_run_was_granted() -> None:
    plain = document({"name": "right", "params": {"score": 1.0}}, requirements=[])
    assert plain["extra_minutes"] is None
    job = job_for({"name": "right", "params": {"score": 1.0}})
    job.extra_minutes = 15.0
    for step in (run_graders, judge_requirements, score, build_document):
        step(job)
    assert job.document is not None and job.document.extra_minutes == 15.0


# timing slots -----------------------------------------------------------------------------------
TIMED_BUILTINS = {"load", "capacity", "search-load", "freshness"}
"""Built-in graders whose verdict is a wall-clock measurement: latency and throughput under
locust (load, capacity, search-load), a document's lag against a bound (freshness). The others
count, compare or read what was recorded: incident the prober's samples taken during the run,
claims the harness's CPU time (thread time, which a neighbour's load does not stretch), relevance
its latency only as evidence, cost and decision-record the capacity grader's figures."""


def test_the_builtin_graders_that_measure_time_declare_it() -> None:
    timed = {grader.kind for grader in builtin.register_graders() if grader.timed}
    assert timed == TIMED_BUILTINS


def slot_taken(timing: TimingSlots) -> bool:
    slot = timing.try_take()
    if slot is None:
        return True
    slot.release()
    return False


class PodWatcher:
    """An evaluation without containers that notes, when its pod opens and first closes,
    whether the machine's one timing slot is taken."""

    def __init__(self, timing: TimingSlots, *, fail_open: bool = False) -> None:
        self.timing = timing
        self.fail_open = fail_open
        self.slot_taken: dict[str, bool] = {}
        self.current_grader = ""

    def open(self) -> None:
        self.slot_taken["open"] = slot_taken(self.timing)
        if self.fail_open:
            raise ContainerError("the evaluation pod could not start")

    def close(self) -> None:
        self.slot_taken.setdefault("close", slot_taken(self.timing))

    def service_logs(self) -> str:
        return ""

    def record_result(self, name: str, result: GradeResult) -> None:
        pass


def graded_job(
    tmp_path: Path, *graders: dict[str, Any], fail_open: bool = False
) -> tuple[GradingJob, PodWatcher, list[str]]:
    """A job for the whole pipeline (``pipeline.grade``) over a real archive, with one timing
    slot in ``tmp_path``; and the events it records."""
    archive = tmp_path / "workspace.tar"
    archive.write_bytes(b"archived")
    timing = TimingSlots(tmp_path / "slots", 1, poll_s=0.01)
    job = job_for(*graders)
    watcher = PodWatcher(timing, fail_open=fail_open)
    events: list[str] = []
    job.run = dataclasses.replace(
        RUN, archive_path=str(archive), archive_sha256=hashlib.sha256(b"archived").hexdigest()
    )
    job.plan = SimpleNamespace(  # type: ignore[assignment]
        attempt=1, archive=archive, services=[], service_archives={}
    )
    job.evaluation = watcher  # type: ignore[assignment]
    job.timing = timing
    job.event = lambda kind, data: events.append(kind)
    return job, watcher, events


def test_a_grading_with_a_timed_grader_holds_a_slot_from_before_its_pod_opens_until_it_closes(
    tmp_path: Path,
) -> None:
    job, watcher, events = graded_job(
        tmp_path, {"name": "right"}, {"name": "fast", "kind": "timed"}
    )
    pipeline.grade(job)
    assert watcher.slot_taken == {"open": True, "close": True}
    assert "grading.timing_slot" in events
    assert not slot_taken(watcher.timing)  # released once graded


def test_a_grading_that_times_nothing_takes_no_slot(tmp_path: Path) -> None:
    job, watcher, events = graded_job(tmp_path, {"name": "right"})
    pipeline.grade(job)
    assert watcher.slot_taken == {"open": False, "close": False}
    assert "grading.timing_slot" not in events


def test_a_timed_grading_whose_pod_fails_to_open_releases_its_slot(tmp_path: Path) -> None:
    job, watcher, _ = graded_job(tmp_path, {"name": "fast", "kind": "timed"}, fail_open=True)
    with pytest.raises(ContainerError):
        pipeline.grade(job)
    assert watcher.slot_taken["open"] is True
    assert not slot_taken(watcher.timing)


def test_a_timed_grading_opens_its_pod_only_once_a_neighbour_releases_the_slot(
    tmp_path: Path,
) -> None:
    job, watcher, _ = graded_job(tmp_path, {"name": "fast", "kind": "timed"})
    said: list[str] = []
    job.report = said.append
    neighbour = watcher.timing.take(lambda _: None)
    grading = threading.Thread(target=pipeline.grade, args=(job,))
    grading.start()
    deadline = time.monotonic() + 10
    while not said and time.monotonic() < deadline:
        time.sleep(0.01)
    assert said[0].startswith("waiting for a timing slot")
    assert watcher.slot_taken == {}  # the pod has not opened
    neighbour.release()
    grading.join(10)
    assert watcher.slot_taken == {"open": True, "close": True}
    assert job.document is not None
