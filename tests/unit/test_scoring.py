"""Combining grader results: weighted means per competency and overall, and the requirement
cap that keeps a run missing a must-have below the pass line, as documented."""

from __future__ import annotations

import pytest

from prodproven.graders.base import GradeResult
from prodproven.runner.grading.requirements import RequirementResult
from prodproven.runner.grading.scoring import CAP, Outcome, combine


def outcome(name: str, competency: str, weight: float, score: float) -> Outcome:
    result = GradeResult(score=score, passed=score == 1, summary="")
    return Outcome(name, "kind", competency, weight, result, 0.0)


def requirement(met: bool) -> RequirementResult:
    return RequirementResult("SLO met", "load", "slo", met, False, "p95 164 ms > SLO 100 ms")


def test_overall_score_is_the_weighted_mean_times_100() -> None:
    card = combine(
        [outcome("a", "deployment", 1, 1.0), outcome("b", "optimization", 3, 0.5)], [], 70
    )
    assert card.score == pytest.approx(100 * (1 * 1.0 + 3 * 0.5) / 4, abs=0.05)


def test_each_competency_averages_only_its_graders() -> None:
    card = combine(
        [
            outcome("a", "deployment", 1, 1.0),
            outcome("b", "deployment", 3, 0.0),
            outcome("c", "optimization", 2, 0.8),
        ],
        [],
        70,
    )
    assert card.competencies == {"deployment": 25.0, "optimization": 80.0}


def test_infrastructure_graders_make_a_value_of_their_own() -> None:
    card = combine(
        [
            outcome("capacity", "infrastructure", 3, 1.0),
            outcome("accuracy", "optimization", 1, 0.5),
            outcome("cost", "infrastructure", 2, 0.5),
        ],
        [],
        70,
    )
    assert card.competencies == {"infrastructure": 80.0, "optimization": 50.0}


def test_a_failed_grader_counts_as_zero() -> None:
    failed = Outcome("a", "kind", "deployment", 1, GradeResult.failed("no service"), 0.0)
    assert combine([failed, outcome("b", "deployment", 1, 1.0)], [], 70).score == 50.0


def test_no_graders_scores_zero() -> None:
    assert combine([], [], 70).score == 0.0


def test_a_run_meeting_every_requirement_above_the_pass_score_passes_uncapped() -> None:
    card = combine([outcome("a", "deployment", 1, 0.9)], [requirement(True)], 70)
    assert card.passed and card.score == 90.0 and card.scale == 1.0


def test_a_missed_requirement_caps_the_score_strictly_below_the_pass_score() -> None:
    card = combine(
        [outcome("a", "deployment", 1, 1.0)], [requirement(True), requirement(False)], 70
    )
    assert not card.passed
    assert card.weighted == 100.0 and card.score == pytest.approx(CAP * 70) and card.score < 70


def test_failing_runs_keep_their_order_under_the_cap() -> None:
    better = combine([outcome("a", "deployment", 1, 0.9)], [requirement(False)], 70)
    worse = combine([outcome("a", "deployment", 1, 0.6)], [requirement(False)], 70)
    assert better.score > worse.score > 0


def test_a_run_below_the_pass_score_does_not_pass_even_with_every_requirement_met() -> None:
    card = combine([outcome("a", "deployment", 1, 0.5)], [requirement(True)], 70)
    assert not card.passed and card.score == 50.0


def test_competencies_are_not_capped() -> None:
    card = combine([outcome("a", "deployment", 1, 1.0)], [requirement(False)], 70)
    assert card.competencies == {"deployment": 100.0}
