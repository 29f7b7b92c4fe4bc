"""The track record: recent evidence weighs more, evidence older than the validity period no
longer counts, and a competency without current evidence says when it lapsed."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from prodproven.runner.grading.result import RunResult
from prodproven.runner.people.track_record import (
    OCCASION_SD,
    Evidence,
    Standing,
    level,
    measurement_se,
    record,
    standing,
)
from tests.unit.resultsupport import grader_entry, result_doc

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def months_ago(months: float) -> datetime:
    return NOW - timedelta(days=months * 30.44)


def piece(score: float, months: float, competency: str = "deployment") -> Evidence:
    return Evidence(competency, score, months_ago(months), f"run-{score}-{months}")


def test_one_fresh_run_is_the_value() -> None:
    now = standing([piece(80, 0)], NOW, months=12)
    assert now.value == pytest.approx(80) and now.level == "proficient" and now.runs == 1


def test_evidence_half_the_validity_old_counts_half_as_much() -> None:
    now = standing([piece(100, 0), piece(40, 6)], NOW, months=12)
    assert now.value == pytest.approx((1 * 100 + 0.5 * 40) / 1.5)


def test_a_recent_retake_outweighs_an_old_result() -> None:
    old_bad_new_good = standing([piece(40, 10), piece(90, 1)], NOW, months=12).value
    old_good_new_bad = standing([piece(90, 10), piece(40, 1)], NOW, months=12).value
    assert old_bad_new_good is not None and old_good_new_bad is not None
    assert old_bad_new_good > 70 > old_good_new_bad


def test_evidence_older_than_the_validity_period_does_not_count() -> None:
    now = standing([piece(95, 13), piece(60, 2)], NOW, months=12)
    assert now.runs == 1 and now.value == pytest.approx(60)


def test_without_current_evidence_the_competency_lapsed_and_says_when() -> None:
    now = standing([piece(95, 14)], NOW, months=12)
    assert now.value is None and now.level is None and now.runs == 0
    assert now.lapsed_at == months_ago(14) + timedelta(days=12 * 30.44)
    assert now.lapsed_at < NOW


def test_a_shorter_validity_setting_lapses_sooner() -> None:
    assert standing([piece(95, 4)], NOW, months=3).value is None
    assert standing([piece(95, 4)], NOW, months=6).value is not None


def test_the_history_is_the_value_right_after_each_run_per_competency() -> None:
    evidence = [
        piece(50, 8),
        piece(90, 2),
        piece(70, 2, competency="optimization"),
    ]
    found = record(evidence, NOW, months=12)
    assert sorted(found) == ["deployment", "optimization"]
    _, history = found["deployment"]
    assert [at for at, _ in history] == [months_ago(8), months_ago(2)]
    assert history[0][1] == pytest.approx(50)
    assert 50 < history[1][1] < 90


@pytest.mark.parametrize(
    ("value", "name"), [(95, "advanced"), (80, "proficient"), (55, "developing"), (10, "not shown")]
)
def test_levels_follow_the_value(value: float, name: str) -> None:
    assert level(value) == name


# the interval ----------------------------------------------------------------------------------
def bounds(now: Standing) -> tuple[float, float]:
    assert now.interval is not None, "the competency is not current"
    return now.interval


def width(now: Standing) -> float:
    low, high = bounds(now)
    return high - low


def test_one_run_gives_a_wide_interval_that_contains_the_value() -> None:
    now = standing([piece(70, 0)], NOW, months=12)
    low, high = bounds(now)
    assert now.value is not None and low <= now.value <= high
    assert now.se == pytest.approx(OCCASION_SD)  # no measurement error recorded for this run
    assert width(now) == pytest.approx(2 * 1.645 * OCCASION_SD, abs=0.2)  # ±16.4 points
    assert now.band == "one run: a wide band" and now.effective_runs == pytest.approx(1)


def test_more_runs_narrow_the_interval() -> None:
    pieces = [piece(70 + (-1) ** i * 4, i * 0.5) for i in range(6)]
    widths = [width(standing(pieces[: n + 1], NOW, months=12)) for n in range(len(pieces))]
    assert widths == sorted(widths, reverse=True) and widths[-1] < widths[0] / 2
    now = standing(pieces, NOW, months=12)
    low, high = bounds(now)
    assert now.value is not None and low <= now.value <= high
    assert now.band.startswith("6 runs, worth") and 5 < now.effective_runs < 6


def test_recency_weights_count_in_the_effective_number_of_runs() -> None:
    fresh = standing([piece(70, 0), piece(80, 0)], NOW, months=12)
    spread = standing([piece(70, 0), piece(80, 11)], NOW, months=12)
    assert fresh.effective_runs == pytest.approx(2)
    assert 1 < spread.effective_runs < 2 and width(spread) > width(fresh)


def test_a_runs_measurement_error_widens_its_interval() -> None:
    exact = standing([piece(70, 0)], NOW, months=12)
    noisy = standing([Evidence("deployment", 70, NOW, "r", se=7.5)], NOW, months=12)
    assert noisy.se == pytest.approx(math.hypot(OCCASION_SD, 7.5))
    assert width(noisy) > width(exact)


def test_the_interval_is_clipped_to_the_score_range() -> None:
    now = standing([piece(98, 0)], NOW, months=12)
    low, high = bounds(now)
    assert high == 100.0 and low < 98


def test_a_lapsed_competency_has_no_interval() -> None:
    now = standing([piece(95, 14)], NOW, months=12)
    assert now.interval is None and now.se is None and now.band == ""


def result_with(sem: float, met: bool = True) -> RunResult:
    requirement = {"name": "SLO", "grader": "a", "condition": "passed", "met": met}
    return RunResult.model_validate(
        result_doc(
            grader_entry("a", competency="deployment", weight=1.0),
            grader_entry("b", competency="deployment", weight=2.0),
            grader_entry("c", competency="optimization", weight=4.0),
            uncertainty={"sem": sem, "interval": [0, 100], "level": 0.9, "basis": "x"},
            requirements=[{**requirement, "borderline": False, "detail": ""}],
            pass_score=70,
        )
    )


def test_a_runs_measurement_error_is_its_total_sem_scaled_to_the_competency() -> None:
    # all the run's noise could lie in a competency's graders: at most sem × Σw / Σw_c
    assert measurement_se(result_with(1.0), "deployment") == pytest.approx(7 / 3)
    assert measurement_se(result_with(1.0), "optimization") == pytest.approx(7 / 4)


def test_a_capped_runs_sem_is_uncapped_first_as_competencies_are_never_capped() -> None:
    capped = measurement_se(result_with(0.63, met=False), "optimization")
    assert capped == pytest.approx(1.0 * 7 / 4)  # 0.63 = 1.0 × 0.9 × 70 / 100


def test_a_result_without_uncertainty_adds_no_measurement_error() -> None:
    assert measurement_se(RunResult.model_validate(result_doc()), "deployment") == 0.0
    fixture = Path(__file__).parent / "fixtures" / "results" / "deploy-model.json"
    assert measurement_se(RunResult.model_validate_json(fixture.read_text()), "deployment") == 0.0
