"""Requirements: the must-haves a challenge declares, each a condition on one grader's result.

A requirement names a grader of the spec and one of the conditions that grader's kind offers
(``passed``, its own pass condition, is offered by every kind); thresholds stay in the grader's
parameters, so the spec states each number once. They are judged at grading
(runner/grading/requirements.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from pydantic import Field

from prodproven.runner.spec.model import Strict

if TYPE_CHECKING:
    from prodproven.runner.spec.parts import GraderSpec


class RequirementSpec(Strict):
    """A must-have: the run passes only when the named grader's result meets ``condition``."""

    name: str = Field(
        min_length=3,
        max_length=100,
        description="what must hold, as the brief states it, e.g. 'SLO met at 25 req/s'",
    )
    grader: str = Field(description="name of a grader of this challenge")
    condition: str = Field(
        "passed",
        description="a condition the grader's kind offers (docs/graders.md lists them); "
        "`passed` is the grader's own pass condition",
    )


def check_requirements(
    requirements: Sequence[RequirementSpec],
    graders: Sequence[GraderSpec],
    conditions: Mapping[str, Sequence[str]],
) -> Iterable[str]:
    """Problems of a spec's ``requirements`` (field path first): unknown graders, conditions
    the grader's kind does not offer, names used twice. ``conditions`` maps kind -> names."""
    kinds = {g.name: g.kind for g in graders}
    seen: set[str] = set()
    for index, req in enumerate(requirements):
        where = f"requirements.{index}"
        if req.name in seen:
            yield f"{where}.name: {req.name!r} is used twice"
        seen.add(req.name)
        kind = kinds.get(req.grader)
        if kind is None:
            yield f"{where}.grader: no grader named {req.grader!r} (graders: {sorted(kinds)})"
            continue
        offered = conditions.get(kind, ["passed"])
        if req.condition not in offered:
            yield (
                f"{where}.condition: a {kind} grader offers no condition {req.condition!r} "
                f"(it offers: {', '.join(offered)})"
            )
