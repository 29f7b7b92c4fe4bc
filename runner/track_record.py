"""A candidate's track record: per competency, the current value of their graded evidence and
its history.

Each graded run is evidence: its competency scores (0-100) at the time it was graded. At a
moment ``T`` only evidence younger than the validity period ``V`` counts, and each piece counts
with the weight ``2 ** (-age / (V / 2))``: evidence half the validity old counts half as much
as fresh evidence. The current value is the weighted mean::

    value(T) = sum(w_i * score_i) / sum(w_i)   over runs graded in (T - V, T]

With no evidence younger than ``V`` the competency is not current any more: the record says
when it lapsed, and taking a challenge again is how one re-certifies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

DAYS_PER_MONTH = 30.44
# A competency's level, from its 0..100 value: the first whose floor the value reaches.
LEVELS = ((90.0, "advanced"), (75.0, "proficient"), (50.0, "developing"), (0.0, "not shown"))


def level(value: float) -> str:
    return next(name for floor, name in LEVELS if value >= floor)


@dataclass(frozen=True)
class Evidence:
    competency: str
    score: float
    at: datetime
    run_id: str


@dataclass(frozen=True)
class Standing:
    """A competency at one moment."""

    competency: str
    value: float | None
    """None when no evidence is younger than the validity period."""
    level: str | None
    runs: int
    """How many runs count at this moment."""
    last_evidence: datetime
    lapsed_at: datetime | None
    """When the newest evidence stops counting (in the past: the competency is not current)."""


def validity(months: int) -> timedelta:
    return timedelta(days=months * DAYS_PER_MONTH)


def standing(evidence: Sequence[Evidence], at: datetime, months: int) -> Standing:
    """One competency's standing at ``at`` from its evidence (all of one competency, any age;
    evidence after ``at`` is ignored). Raises ValueError without any evidence up to ``at``."""
    seen = [e for e in evidence if e.at <= at]
    if not seen:
        raise ValueError("no evidence up to that moment")
    period = validity(months)
    half_life = period.total_seconds() / 2
    counted = [e for e in seen if at - e.at < period]
    last = max(e.at for e in seen)
    if not counted:
        return Standing(seen[0].competency, None, None, 0, last, last + period)
    weights = [2 ** (-(at - e.at).total_seconds() / half_life) for e in counted]
    value = sum(w * e.score for w, e in zip(weights, counted, strict=True)) / sum(weights)
    return Standing(seen[0].competency, value, level(value), len(counted), last, last + period)


def record(
    evidence: Sequence[Evidence], now: datetime, months: int
) -> dict[str, tuple[Standing, list[tuple[datetime, float]]]]:
    """Per competency: its standing now, and its history (the value right after each piece of
    evidence, oldest first)."""
    found: dict[str, tuple[Standing, list[tuple[datetime, float]]]] = {}
    for competency in sorted({e.competency for e in evidence}):
        mine = sorted((e for e in evidence if e.competency == competency), key=lambda e: e.at)
        history = []
        for piece in mine:
            value = standing(mine, piece.at, months).value
            if value is not None:
                history.append((piece.at, value))
        found[competency] = (standing(mine, now, months), history)
    return found
