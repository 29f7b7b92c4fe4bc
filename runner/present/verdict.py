"""A run's verdict for people, from its result document (docs/json-output.md): passed or not,
each requirement with what was measured, and the score with its interval.

Pages (the run page, the runs list, the standalone report) show it before any breakdown.
Everything here is data: templates escape it. Runs graded before requirements existed have no
``passed`` key; their verdict is unknown until they are graded again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prodproven.runner.grading.requirements import RequirementResult

PASSED, NOT_PASSED, UNKNOWN, UNGRADED = "passed", "not-passed", "unknown", "ungraded"
LABELS = {
    PASSED: "PASSED",
    NOT_PASSED: "NOT PASSED",
    UNKNOWN: "verdict unknown — grade again",
    UNGRADED: "not graded",
}


@dataclass(frozen=True)
class Verdict:
    state: str
    """One of PASSED, NOT_PASSED, UNKNOWN (graded before requirements existed), UNGRADED."""
    reason: str
    requirements: tuple[RequirementResult, ...]
    score: float | None
    interval: tuple[float, float] | None
    level: float
    basis: str

    @property
    def label(self) -> str:
        return LABELS[self.state]

    @property
    def missed(self) -> tuple[RequirementResult, ...]:
        return tuple(r for r in self.requirements if not r.met)

    @property
    def score_text(self) -> str:
        """``57.3 (90% interval 52.1–62.5)``; the score alone without an interval."""
        if self.score is None:
            return "–"
        if self.interval is None:
            return f"{self.score:.1f}"
        low, high = self.interval
        return f"{self.score:.1f} ({self.level * 100:g}% interval {low:.1f}–{high:.1f})"


def of(result: Mapping[str, Any] | None) -> Verdict:
    """The verdict of a result document (a run's ``result`` or its status document); None, or a
    document without a score, is a run not graded yet."""
    doc: Mapping[str, Any] = result or {}
    score = _number(doc.get("score"))
    requirements = tuple(
        RequirementResult(
            name=str(r.get("name", "")),
            grader=str(r.get("grader", "")),
            condition=str(r.get("condition", "")),
            met=r.get("met") is True,
            borderline=r.get("borderline") is True,
            detail=str(r.get("detail", "")),
        )
        for r in doc.get("requirements") or []
        if isinstance(r, Mapping)
    )
    uncertainty = doc.get("uncertainty")
    uncertainty = uncertainty if isinstance(uncertainty, Mapping) else {}
    bounds = uncertainty.get("interval")
    interval = None
    if isinstance(bounds, list | tuple) and len(bounds) == 2:
        low, high = _number(bounds[0]), _number(bounds[1])
        interval = (low, high) if low is not None and high is not None else None
    passed = doc.get("passed")
    if score is None:
        state, reason = UNGRADED, "no result yet"
    elif not isinstance(passed, bool):
        state = UNKNOWN
        reason = "graded before requirements existed: grade the run again for its verdict"
    else:
        state = PASSED if passed else NOT_PASSED
        reason = _reason(passed, requirements, doc.get("pass_score"))
    return Verdict(
        state=state,
        reason=reason,
        requirements=requirements,
        score=score,
        interval=interval,
        level=_number(uncertainty.get("level")) or 0.9,
        basis=str(uncertainty.get("basis") or ""),
    )


def _reason(passed: bool, requirements: tuple[RequirementResult, ...], pass_score: Any) -> str:
    missed = sum(1 for r in requirements if not r.met)
    if passed:
        return "every requirement met" if requirements else "at or above the pass score"
    if missed:
        return f"{missed} requirement{'s' if missed > 1 else ''} missed"
    line = _number(pass_score)
    return "score below the pass line" + (f" {line:g}" if line is not None else "")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
