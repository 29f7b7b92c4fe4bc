"""From grader results to competency scores and the production-proven score.

    competency score  = 100 * sum(w_i * s_i) / sum(w_i)   over the graders of that competency
    production-proven = 100 * sum(w_i * s_i) / sum(w_i)   over all graders

where s_i in 0..1 is grader i's score and w_i its weight in the spec. A grader that could not
measure (an error) counts with score 0: missing evidence never earns points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from graders.base import GradeResult

FORMULA = (
    "score = 100 * Σ(weight × grader score) / Σ weight over all graders; each competency: the "
    "same over its own graders"
)


@dataclass(frozen=True)
class Outcome:
    """One grader's result in the context of the spec that declared it."""

    name: str
    kind: str
    competency: str
    weight: float
    result: GradeResult
    duration_s: float


@dataclass(frozen=True)
class Scorecard:
    score: float
    competencies: dict[str, float]


def weighted(outcomes: Sequence[Outcome]) -> float:
    total = sum(o.weight for o in outcomes)
    return 100.0 * sum(o.weight * o.result.score for o in outcomes) / total if total else 0.0


def combine(outcomes: Sequence[Outcome]) -> Scorecard:
    by_competency: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        by_competency.setdefault(outcome.competency, []).append(outcome)
    return Scorecard(
        score=round(weighted(outcomes), 1),
        competencies={c: round(weighted(os), 1) for c, os in sorted(by_competency.items())},
    )
