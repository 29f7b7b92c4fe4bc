"""The load grader's analysis of locust samples: windows, median p95, errors, throughput."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from prodproven.graders.load import (
    LoadParams,
    Sample,
    parse_samples,
    per_second,
    score_load,
    slo_held,
)

START = 1_000_000.0


def params(**changes: Any) -> LoadParams:
    base = {
        "payloads": "p.json",
        "slo": {"p95_ms": 100, "max_error_rate": 0.01},
        "rate": 10,
        "warmup_s": 2,
        "windows": 3,
        "window_s": 5,
    }
    return LoadParams.model_validate({**base, **changes})


def steady(
    latency_ms: float | Callable[[int], float],
    *,
    rate: int = 10,
    seconds: int = 17,
    error_every: int = 0,
) -> list[Sample]:
    count = rate * seconds
    return [
        Sample(
            START + i / rate,
            latency_ms(i) if callable(latency_ms) else latency_ms,
            "HTTP 500" if error_every and i % error_every == 0 else "",
        )
        for i in range(count)
    ]


def test_fast_service_within_slo_gets_full_score() -> None:
    result = score_load(steady(20.0), START, params())
    assert result.score == 1.0 and result.passed
    assert result.evidence["p95_ms"] == 20.0 and result.evidence["throughput_rps"] == 10.0


def test_warmup_requests_are_not_measured() -> None:
    samples = steady(lambda i: 5000.0 if i < 20 else 20.0)
    assert score_load(samples, START, params()).evidence["p95_ms"] == 20.0


def test_graded_p95_is_the_median_of_window_p95s() -> None:
    # window 0 slow, windows 1 and 2 fast: the median window decides, the spread shows it.
    samples = steady(lambda i: 300.0 if 20 <= i < 70 else 50.0)
    result = score_load(samples, START, params())
    assert result.evidence["p95_ms"] == 50.0
    assert result.evidence["p95_spread_ms"] == 250.0


def test_latency_just_over_the_slo_keeps_only_half_the_points() -> None:
    result = score_load(steady(101.0), START, params())
    assert not result.passed and result.score == pytest.approx(0.495, abs=0.001)


def test_latency_over_slo_falls_from_half_to_zero_at_the_zero_factor() -> None:
    assert score_load(steady(150.0), START, params()).score == pytest.approx(0.25)
    assert score_load(steady(200.0), START, params()).score == 0.0
    assert score_load(steady(150.0), START, params(latency_zero_factor=4)).score == (
        pytest.approx(0.5 * 250 / 300, abs=1e-4)
    )


def test_each_window_is_scored_on_its_own_for_the_score_standard_error() -> None:
    samples = steady(lambda i: 150.0 if 20 <= i < 70 else 50.0)
    result = score_load(samples, START, params())
    assert result.evidence["window_scores"] == [0.25, 1.0, 1.0]
    assert result.sem == pytest.approx(0.25, abs=0.001)  # sd 0.433 / sqrt(3)
    assert score_load(steady(20.0), START, params()).sem == 0.0


def test_the_slo_condition_states_the_measured_value_and_the_threshold() -> None:
    over = score_load(steady(164.0), START, params())
    verdict = slo_held(over, params())
    assert not verdict.met and not verdict.borderline
    assert verdict.detail == "p95 164 ms > SLO 100 ms; errors 0.0% <= 1.0%; 10.0 of 10 req/s"
    assert slo_held(score_load(steady(20.0), START, params()), params()).met


def test_a_p95_within_its_noise_of_the_slo_is_borderline() -> None:
    samples = steady(lambda i: 90.0 if i < 70 else 104.0 if i < 120 else 101.0)
    result = score_load(samples, START, params())
    verdict = slo_held(result, params())
    assert verdict.borderline and not verdict.met
    assert "borderline" in verdict.detail


def test_errors_over_budget_lower_the_score() -> None:
    result = score_load(steady(20.0, error_every=10), START, params())
    assert result.evidence["error_rate"] == pytest.approx(0.1, abs=0.01)
    assert result.score < 0.1 and not result.passed
    assert "HTTP 500" in result.evidence["errors_seen"]


def test_missing_throughput_fails_the_slo() -> None:
    result = score_load(steady(20.0, rate=6), START, params())
    assert result.evidence["throughput_rps"] == 6.0
    assert not result.passed and result.score < 1.0


def test_no_measured_requests_is_a_failed_result() -> None:
    result = score_load([Sample(START, 10.0, "")], START, params())
    assert result.score == 0.0 and result.error


def test_per_second_series_counts_requests_and_errors() -> None:
    series = per_second(steady(20.0, error_every=5, seconds=2), START)
    assert [s["requests"] for s in series] == [10, 10]
    assert series[0]["errors"] == 2


def test_samples_csv_round_trips() -> None:
    data = b"start,response_ms,error\n1.5,12.25,\n2.0,30.0,HTTP 503\n"
    assert parse_samples(data) == [Sample(1.5, 12.25, ""), Sample(2.0, 30.0, "HTTP 503")]
