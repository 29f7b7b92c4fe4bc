"""A run's verdict for people, from its result document (``RunResult``): passed or not,
each requirement with what was measured, and the score with its interval.

Pages (the run page, the runs list, the standalone report) show it before any breakdown.
Everything here is data: templates escape it. Runs graded before requirements existed have a
null ``passed``; their verdict is unknown until they are graded again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from prodproven.runner.grading.requirements import RequirementResult
from prodproven.runner.grading.result import RunResult, status_document
from prodproven.runner.grading.uncertainty import LEVEL
from prodproven.runner.runs.store import Run, Status

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


def of(result: RunResult | None) -> Verdict:
    """The verdict of a result document; None, or a document without a score, is a run not
    graded yet."""
    if result is not None and result.status is Status.cancelled:
        state, reason = UNGRADED, f"cancelled, never graded: {result.error}"
    elif result is None or result.score is None:
        state, reason = UNGRADED, "no result yet"
    elif result.passed is None:
        state = UNKNOWN
        reason = "graded before requirements existed: grade the run again for its verdict"
    else:
        state = PASSED if result.passed else NOT_PASSED
        reason = _reason(result.passed, result.requirements, result.pass_score)
    uncertainty = result.uncertainty if result is not None else None
    return Verdict(
        state=state,
        reason=reason,
        requirements=tuple(result.requirements) if result is not None else (),
        score=result.score if result is not None else None,
        interval=uncertainty.interval if uncertainty is not None else None,
        level=uncertainty.level if uncertainty is not None else LEVEL,
        basis=uncertainty.basis if uncertainty is not None else "",
    )


def of_run(run: Run) -> Verdict:
    """The verdict of a run, from its stored result (whole, or cut down to the verdict's fields
    in a listing)."""
    return of(status_document(run))


def _reason(
    passed: bool, requirements: Sequence[RequirementResult], pass_score: float | None
) -> str:
    missed = sum(1 for r in requirements if not r.met)
    if passed:
        return "every requirement met" if requirements else "at or above the pass score"
    if missed:
        return f"{missed} requirement{'s' if missed > 1 else ''} missed"
    return "score below the pass line" + (f" {pass_score:g}" if pass_score is not None else "")
