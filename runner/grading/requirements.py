"""Requirements judged: each requirement of the spec (runner/spec/requirements.py) on its
grader's result. A run passes only when every requirement is met (see
runner/grading/scoring.py for what a miss does to the score)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from prodproven.graders.base import Grader, GradeResult
from prodproven.runner.spec.requirements import RequirementSpec

if TYPE_CHECKING:
    from prodproven.runner.spec.parts import GraderSpec


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
