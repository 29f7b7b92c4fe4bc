"""Requirements: a spec names must-haves as conditions on its graders' results; each is judged
on the result alone, and a grader that did not measure never meets one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from prodproven.graders.base import GradeResult
from prodproven.runner import plugins
from prodproven.runner.errors import SpecError
from prodproven.runner.grading.requirements import evaluate
from prodproven.runner.spec.challenge import load_challenge
from prodproven.runner.spec.parts import GraderSpec
from prodproven.runner.spec.requirements import RequirementSpec


def load_result(p95: float) -> GradeResult:
    return GradeResult(
        score=1.0 if p95 <= 100 else 0.2,
        passed=p95 <= 100,
        summary=f"p95 {p95} ms",
        evidence={"p95_ms": p95, "p95_sem_ms": 1.0, "error_rate": 0.0, "throughput_rps": 25.0},
    )


GRADERS = {
    "correctness": GraderSpec.model_validate(
        {
            "name": "correctness",
            "kind": "correctness",
            "competency": "deployment",
            "params": {"inputs": "i.json", "expected": "e.json"},
        }
    ),
    "load": GraderSpec.model_validate(
        {
            "name": "load",
            "kind": "load",
            "competency": "optimization",
            "params": {"payloads": "p.json", "rate": 25, "slo": {"p95_ms": 100}},
        }
    ),
}
SLO = RequirementSpec(name="SLO met at 25 req/s", grader="load", condition="slo")
ANSWERS = RequirementSpec(name="Answers match the model", grader="correctness")


def judge(results: dict[str, GradeResult], *reqs: RequirementSpec) -> list[dict[str, Any]]:
    return [r.as_dict() for r in evaluate(reqs, results, GRADERS, plugins.graders())]


def test_a_met_slo_says_what_was_measured_against_what() -> None:
    (verdict,) = judge({"load": load_result(80.0)}, SLO)
    assert verdict == {
        "name": "SLO met at 25 req/s",
        "grader": "load",
        "condition": "slo",
        "met": True,
        "borderline": False,
        "detail": "p95 80 ms <= SLO 100 ms; errors 0.0% <= 1.0%; 25.0 of 25 req/s",
    }


def test_a_missed_slo_is_unmet_with_the_numbers() -> None:
    (verdict,) = judge({"load": load_result(164.0)}, SLO)
    assert not verdict["met"] and verdict["detail"].startswith("p95 164 ms > SLO 100 ms")


def test_passed_is_the_graders_own_pass_condition_with_its_summary() -> None:
    ok = GradeResult(score=1.0, passed=True, summary="100/100 answered correctly")
    (verdict,) = judge({"correctness": ok}, ANSWERS)
    assert verdict["met"] and verdict["detail"] == "100/100 answered correctly"


def test_a_grader_that_could_not_measure_leaves_its_requirement_unmet() -> None:
    (verdict,) = judge({"load": GradeResult.failed("the service never became healthy")}, SLO)
    assert not verdict["met"]
    assert verdict["detail"] == "not measured: the service never became healthy"


def test_a_grader_that_did_not_run_leaves_its_requirement_unmet() -> None:
    (verdict,) = judge({}, SLO)
    assert not verdict["met"] and verdict["detail"] == "not measured: no load grader ran"


SpecWith = Callable[[list[dict[str, Any]]], str]
"""The spec error of deploy-model with the given requirements."""


@pytest.fixture
def spec_with(make_challenge: Callable[..., Path]) -> SpecWith:
    def make(requirements: list[dict[str, Any]]) -> str:
        root = make_challenge(lambda spec: spec.update(requirements=requirements))
        with pytest.raises(SpecError) as info:
            load_challenge(root, plugins.catalog())
        return str(info.value)

    return make


def test_a_requirement_on_an_unknown_grader_is_a_spec_error_naming_the_graders(
    spec_with: SpecWith,
) -> None:
    problems = spec_with([{"name": "fast", "grader": "latency"}])
    assert "requirements.0.grader: no grader named 'latency'" in problems
    assert "'batch-load', 'correctness', 'load', 'robustness'" in problems


def test_a_condition_the_kind_does_not_offer_is_a_spec_error_listing_those_it_does(
    spec_with: SpecWith,
) -> None:
    problems = spec_with([{"name": "fast", "grader": "load", "condition": "fast"}])
    assert (
        "requirements.0.condition: a load grader offers no condition 'fast' "
        "(it offers: passed, slo)" in problems
    )


def test_a_requirement_name_used_twice_is_a_spec_error(spec_with: SpecWith) -> None:
    twice = {"name": "SLO met", "grader": "load", "condition": "slo"}
    assert "requirements.1.name: 'SLO met' is used twice" in spec_with([twice, twice])
