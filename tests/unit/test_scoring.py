"""Combining grader results: weighted means per competency and overall, as documented."""

from __future__ import annotations

import pytest

from graders.base import GradeResult
from runner.scoring import Outcome, combine


def outcome(name: str, competency: str, weight: float, score: float) -> Outcome:
    result = GradeResult(score=score, passed=score == 1, summary="")
    return Outcome(name, "kind", competency, weight, result, 0.0)


def test_overall_score_is_the_weighted_mean_times_100():
    card = combine([outcome("a", "deployment", 1, 1.0), outcome("b", "optimization", 3, 0.5)])
    assert card.score == pytest.approx(100 * (1 * 1.0 + 3 * 0.5) / 4, abs=0.05)


def test_each_competency_averages_only_its_graders():
    card = combine(
        [
            outcome("a", "deployment", 1, 1.0),
            outcome("b", "deployment", 3, 0.0),
            outcome("c", "optimization", 2, 0.8),
        ]
    )
    assert card.competencies == {"deployment": 25.0, "optimization": 80.0}


def test_a_failed_grader_counts_as_zero():
    failed = Outcome("a", "kind", "deployment", 1, GradeResult.failed("no service"), 0.0)
    card = combine([failed, outcome("b", "deployment", 1, 1.0)])
    assert card.score == 50.0


def test_no_graders_scores_zero():
    assert combine([]).score == 0.0
