"""Scoring curves shared by graders: each maps a measurement to 0..1 and is documented in
docs/graders.md with the grader that uses it."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def ramp_down(value: float, *, full: float, zero: float) -> float:
    """1 at or below ``full``, 0 at or above ``zero``, linear in between (lower is better)."""
    if zero <= full:
        raise ValueError(f"zero ({zero}) must be above full ({full})")
    if value <= full:
        return 1.0
    if value >= zero:
        return 0.0
    return (zero - value) / (zero - full)


def cliff_down(value: float, *, limit: float, zero: float, step: float = 0.5) -> float:
    """A requirement's curve (lower is better): 1 at or below ``limit``; just above it, a drop
    to ``step``, then linear to 0 at ``zero``. A limit is met or it is not: a little over is
    a failure that keeps at most ``step`` of the points, so failing runs still order."""
    if zero <= limit:
        raise ValueError(f"zero ({zero}) must be above limit ({limit})")
    if value <= limit:
        return 1.0
    return step * ramp_down(value, full=limit, zero=zero)


def ramp_up(value: float, *, zero: float, full: float) -> float:
    """0 at or below ``zero``, 1 at or above ``full``, linear in between (higher is better)."""
    return ramp_down(-value, full=-full, zero=-zero)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


Z90 = 1.645
"""Half-width of a two-sided 90% normal interval, in standard errors."""


def standard_error(values: Sequence[float]) -> float:
    """The standard error of the mean of ``values`` (sample standard deviation / sqrt(n));
    0 for fewer than two values, which measure no spread."""
    if len(values) < 2:
        return 0.0
    return statistics.stdev(values) / math.sqrt(len(values))
