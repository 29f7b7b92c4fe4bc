"""From grader results to competency scores and the production-proven score.

    competency score = 100 * sum(w_i * s_i) / sum(w_i)   over the graders of that competency
    weighted mean    = 100 * sum(w_i * s_i) / sum(w_i)   over all graders
    score            = weighted mean                      when every requirement is met
                     = weighted mean * CAP * pass_score / 100   when one is not

where s_i in 0..1 is grader i's score and w_i its weight in the spec. A grader that could not
measure (an error) counts with score 0: missing evidence never earns points. The cap maps a
failing run's 0..100 onto 0..CAP*pass_score, so it stays strictly below the pass line whatever
its mean, and failing runs keep their order among themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from prodproven.graders.base import GradeResult
from prodproven.runner.grading.requirements import RequirementResult

CAP = 0.9
"""A run that misses a requirement scores at most this share of its challenge's pass_score."""

FORMULA = (
    "score = 100 × Σ(weight × grader score) / Σ weight over all graders, when every "
    f"requirement is met; a run that misses one scores that × {CAP:g} × pass_score / 100, "
    "strictly below the pass line; each competency: the weighted mean over its own graders"
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
    weighted: float
    passed: bool
    scale: float
    """What the weighted mean was multiplied by: 1, or the cap for a failing run."""
    competencies: dict[str, float]


def weighted(outcomes: Sequence[Outcome]) -> float:
    total = sum(o.weight for o in outcomes)
    return 100.0 * sum(o.weight * o.result.score for o in outcomes) / total if total else 0.0


def combine(
    outcomes: Sequence[Outcome], requirements: Sequence[RequirementResult], pass_score: float
) -> Scorecard:
    by_competency: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        by_competency.setdefault(outcome.competency, []).append(outcome)
    mean = weighted(outcomes)
    met = all(r.met for r in requirements)
    scale = 1.0 if met else CAP * pass_score / 100
    score = round(mean * scale, 1)
    return Scorecard(
        score=score,
        weighted=round(mean, 1),
        passed=met and score >= pass_score,
        scale=scale,
        competencies={c: round(weighted(os), 1) for c, os in sorted(by_competency.items())},
    )
