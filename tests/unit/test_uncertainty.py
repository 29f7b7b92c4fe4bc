"""A score's uncertainty: grader standard errors from within-run repeats and the gate's
re-grading spread, propagated through the weighted mean into a 90% interval."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from prodproven.graders.base import GradeResult
from prodproven.runner.grading.scoring import Outcome
from prodproven.runner.grading.uncertainty import (
    Regrading,
    interval,
    load_regrading,
    of_score,
    record_regrading,
)


def outcome(name: str, weight: float, sem: float | None) -> Outcome:
    result = GradeResult(score=1.0, passed=True, summary="", sem=sem)
    return Outcome(name, "kind", "deployment", weight, result, 0.0)


REGRADING = Regrading("deploy-model", "1.2.0", 3, "2026-11-25", {"load": 0.04, "tests": 0.0})


def test_deterministic_graders_without_a_gate_measurement_have_no_spread_and_say_why() -> None:
    u = of_score([outcome("tests", 1, None)], 100.0, 1.0, None)
    assert u.sem == 0.0 and u.interval == (100.0, 100.0)
    assert u.basis.startswith("no repeated measurement")


def test_within_run_standard_errors_propagate_through_the_weights() -> None:
    u = of_score([outcome("load", 3, 0.1), outcome("tests", 1, None)], 80.0, 1.0, None)
    assert u.sem == pytest.approx(100 * 3 * 0.1 / 4, abs=0.01)
    assert u.basis == "within-run repeats of load"


def test_the_larger_of_within_run_and_regrading_spread_counts() -> None:
    u = of_score([outcome("load", 1, 0.01)], 80.0, 1.0, REGRADING)
    assert u.sem == pytest.approx(4.0)
    assert "re-grading spread from the gate (3 gradings of one archive, 2026-11-25)" in u.basis


def test_the_cap_of_a_failing_run_scales_its_standard_error() -> None:
    u = of_score([outcome("load", 1, 0.1)], 50.0, 0.63, None)
    assert u.sem == pytest.approx(6.3)


def test_the_interval_is_90_percent_two_sided_and_clipped_to_the_scale() -> None:
    assert interval(50.0, 10.0) == (33.5, 66.5)
    assert interval(98.0, 10.0) == (81.5, 100.0)
    low, high = interval(50.0, 1.0)
    assert math.isclose(high - low, 2 * 1.645, abs_tol=0.1)


def test_the_gate_measurement_is_recorded_per_challenge_version(tmp_path: Path) -> None:
    record_regrading(tmp_path, REGRADING)
    assert load_regrading(tmp_path, "deploy-model", "1.2.0") == REGRADING
    assert load_regrading(tmp_path, "deploy-model", "1.3.0") is None


def test_an_unreadable_record_counts_as_not_measured(tmp_path: Path) -> None:
    path = record_regrading(tmp_path, REGRADING)
    path.write_text("{not json")
    assert load_regrading(tmp_path, "deploy-model", "1.2.0") is None
