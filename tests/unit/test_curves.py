"""Scoring curves used by the graders."""

from __future__ import annotations

import math

import pytest

from prodproven.graders.curves import percentile, ramp_down, ramp_up


@pytest.mark.parametrize(
    "value,expected", [(50, 1.0), (100, 1.0), (250, 0.5), (400, 0.0), (900, 0.0)]
)
def test_ramp_down_is_full_below_and_zero_above(value: float, expected: float) -> None:
    assert ramp_down(value, full=100, zero=400) == pytest.approx(expected)


@pytest.mark.parametrize(
    "value,expected", [(0.2, 0.0), (0.45, 0.0), (0.675, 0.5), (0.9, 1.0), (1.2, 1.0)]
)
def test_ramp_up_mirrors_ramp_down(value: float, expected: float) -> None:
    assert ramp_up(value, zero=0.45, full=0.9) == pytest.approx(expected)


def test_ramp_refuses_an_empty_range() -> None:
    with pytest.raises(ValueError):
        ramp_down(1, full=5, zero=5)


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile(list(range(101)), 95) == 95


def test_percentile_of_nothing_is_nan() -> None:
    assert math.isnan(percentile([], 95))
