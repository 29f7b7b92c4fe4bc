"""Requirements: the must-haves a challenge declares, each a condition on one grader's result.

A run passes only when every requirement is met (see runner/scoring.py for what a miss does to
the score). A requirement names a grader of the spec and one of the conditions that grader's
kind offers (``passed``, its own pass condition, is offered by every kind); thresholds stay in
the grader's parameters, so the spec states each number once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from prodproven.graders.base import Grader, GradeResult
from prodproven.runner.spec.model import Strict
from pydantic import Field

if TYPE_CHECKING:
    from prodproven.runner.spec.challenge import GraderSpec


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


@dataclass(frozen=True)
class RequirementResult:
    """One requirement's verdict, as the result document carries it."""

    name: str
    grader: str
    condition: str
    met: bool
    borderline: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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


def evaluate(
    requirements: Sequence[RequirementSpec],
    results: Mapping[str, GradeResult],
    specs: Mapping[str, GraderSpec],
    classes: Mapping[str, type[Grader[Any]]],
) -> list[RequirementResult]:
    """Each requirement judged on its grader's result (``results`` and ``specs`` by grader
    name, ``classes`` by kind). A grader that did not run, could not measure or is not
    installed leaves its requirements unmet: missing evidence never passes a run."""
    verdicts = []
    for req in requirements:
        spec = specs[req.grader]
        result = results.get(req.grader)
        grader = classes.get(spec.kind)
        condition = grader.condition(req.condition) if grader is not None else None
        if result is None or grader is None or condition is None:
            met, borderline, detail = False, False, f"not measured: no {spec.kind} grader ran"
        elif result.error:
            met, borderline, detail = False, False, f"not measured: {result.error}"
        else:
            verdict = condition.check(result, grader.Params.model_validate(spec.params))
            met, borderline, detail = verdict.met, verdict.borderline, verdict.detail
        verdicts.append(
            RequirementResult(req.name, req.grader, req.condition, met, borderline, detail)
        )
    return verdicts
