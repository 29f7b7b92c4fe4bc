"""A candidate's track record: per competency, the current value of their graded evidence and
its history.

Each graded run is evidence: its competency scores (0-100) at the time it was graded. At a
moment ``T`` only evidence younger than the validity period ``V`` counts, and each piece counts
with the weight ``2 ** (-age / (V / 2))``: evidence half the validity old counts half as much
as fresh evidence. The current value is the weighted mean::

    value(T) = sum(w_i * score_i) / sum(w_i)   over runs graded in (T - V, T]

With no evidence younger than ``V`` the competency is not current any more: the record says
when it lapsed, and taking a challenge again is how one re-certifies.

The value carries a 90% interval that narrows as evidence accumulates. Each run's competency
score has a standard error ``se_i = sqrt(OCCASION_SD**2 + m_i**2)``: how far one person's
score moves between sittings (assumed, see ``OCCASION_SD``) and the run's own measurement
error ``m_i`` (:func:`measurement_se`, from its result's ``uncertainty``). Treating the runs as
independent, the weighted mean's standard error is::

    SE = sqrt(sum(w_i**2 * se_i**2)) / sum(w_i)     effective runs = sum(w_i)**2 / sum(w_i**2)

and the interval is ``value ± 1.645 SE``, clipped to 0..100 (docs/candidates.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from prodproven.runner.grading.result import RunResult
from prodproven.runner.grading.scoring import CAP
from prodproven.runner.grading.uncertainty import interval

DAYS_PER_MONTH = 30.44
OCCASION_SD = 10.0
"""Assumed standard deviation (score points, 0..100) of one person's competency score from
one sitting to the next: a different day, variant or challenge of the same competency. Not
measured by prodproven yet (that needs people taking comparable challenges twice); 10 points
is what a test-retest reliability of 0.75 gives when candidates' scores spread with a standard
deviation of 20 (20 * sqrt(1 - 0.75)). It dominates the interval of one or two runs, so the
band is wide until evidence accumulates; replace it when repeat sittings have measured it."""
INTERVAL_NOTE = (
    f"90% intervals assume that one person's score moves by {OCCASION_SD:g} points (one "
    "standard deviation) from one sitting to the next, which prodproven has not measured yet, "
    "plus each run's own measurement error; they narrow as runs accumulate."
)
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
    se: float = 0.0
    """The run's own measurement error of ``score`` (:func:`measurement_se`); OCCASION_SD is
    added to it in :func:`standing`."""


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
    interval: tuple[float, float] | None = None
    """The value's 90% interval (None when not current)."""
    se: float | None = None
    """The value's standard error (None when not current)."""
    effective_runs: float = 0.0
    """(sum of weights)^2 / sum of squared weights: how many equally weighted runs the counted
    evidence is worth."""

    @property
    def band(self) -> str:
        """What the interval rests on, in words (empty when not current)."""
        if self.value is None:
            return ""
        if self.runs == 1:
            return "one run: a wide band"
        return f"{self.runs} runs, worth {self.effective_runs:.1f} equally weighted ones"


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
    total = sum(weights)
    value = sum(w * e.score for w, e in zip(weights, counted, strict=True)) / total
    variance = sum(w**2 * (OCCASION_SD**2 + e.se**2) for w, e in zip(weights, counted, strict=True))
    se = math.sqrt(variance) / total
    return Standing(
        seen[0].competency,
        value,
        level(value),
        len(counted),
        last,
        last + period,
        interval=interval(value, se),
        se=se,
        effective_runs=total**2 / sum(w**2 for w in weights),
    )


def measurement_se(result: RunResult, competency: str) -> float:
    """The run's own measurement error of one competency score, from its result document.

    The result gives the standard error of its total score (``uncertainty.sem``, times the
    requirement cap when a requirement was missed; competencies are never capped), not how it
    splits among competencies. A competency's score is the weighted mean over its own graders,
    so its standard error is at most the uncapped total's times ``sum(all weights) /
    sum(its weights)``: the bound when all the measured noise lies in its graders. That bound
    is used, so the interval is never narrower than the measurement allows. 0 for results
    without an uncertainty (graded before it existed)."""
    sem = result.uncertainty.sem if result.uncertainty is not None else 0.0
    if not sem:
        return 0.0
    met = all(r.met for r in result.requirements)
    pass_score = result.pass_score
    scale = 1.0 if met or pass_score is None else CAP * pass_score / 100
    total = sum(g.weight for g in result.graders)
    own = sum(g.weight for g in result.graders if g.competency == competency)
    share = total / own if own > 0 and total > 0 else 1.0
    return sem / scale * share if scale > 0 else 0.0


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
