"""The ``served-auc`` grader: how well the model the deployment really serves ranks hidden
labelled traffic, measured through the load balancer (ROC AUC of its ``probabilities``).

The labels never enter the pod: a probe sends the hidden requests and returns the answers,
and the AUC is computed here, exactly (the Mann-Whitney statistic with ties counted half).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from pydantic import Field

from prodproven.graders.base import (
    HIDDEN_FILE,
    EvaluationEnvironment,
    Grader,
    GraderError,
    GradeResult,
    Params,
)
from prodproven.graders.correctness import ask_service
from prodproven.graders.curves import cliff_down, ramp_up

WORST = {0: 2.0, 1: -1.0}
"""What an instance without a valid answer counts as, by its label: ranked wrong against every
instance of the other class, so a service cannot raise its AUC by failing on the instances it
would rank badly."""


class ServedAucParams(Params):
    requests: str = Field(
        description='hidden JSON list of request bodies {"instances": [[...], ...]}',
        json_schema_extra=HIDDEN_FILE,
    )
    labels: str = Field(
        description="hidden JSON list of 0/1, one per instance of the requests, in order",
        json_schema_extra=HIDDEN_FILE,
    )
    floor: float = Field(gt=0.5, lt=1, description="AUC needed to pass")
    zero_below: float = Field(
        0.10, gt=0, description="AUC this far under the floor scores 0 (just under it: 0.4)"
    )
    full_above: float = Field(
        0.03, gt=0, description="AUC this far over the floor earns full marks"
    )
    at_floor: float = Field(0.8, gt=0, le=1, description="the score of an AUC at the floor")
    endpoint: str = Field("/predict", description="POST path")
    key: str = Field("probabilities", description="the answer's list of class-1 probabilities")
    batch_size: int = Field(16, ge=1, le=1000, description="instances per request")
    request_timeout_s: float = Field(10, gt=0, description="per request")


def roc_auc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """The probability that a random positive scores above a random negative (ties: half),
    from average ranks. Both classes must be present."""
    positives = sum(labels)
    negatives = len(labels) - positives
    if not positives or not negatives:
        raise ValueError("the AUC needs both classes among the labels")
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1  # the tie group's average 1-based rank
        i = j + 1
    rank_sum = sum(r for r, y in zip(ranks, labels, strict=True) if y == 1)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def auc_score(auc: float, params: ServedAucParams) -> float:
    """The curve: a cliff at the floor (just under it keeps at most at_floor/2 of the points,
    falling to 0 at floor - zero_below); at the floor at_floor, rising linearly to 1 at
    floor + full_above, so a better model earns a little more."""
    floor = params.floor
    below = cliff_down(-auc, limit=-floor, zero=-(floor - params.zero_below))
    above = ramp_up(auc, zero=floor, full=floor + params.full_above)
    return below * (params.at_floor + (1 - params.at_floor) * above)


def probability(value: Any) -> float | None:
    """``value`` as a probability, or None when it is not a finite number in 0..1."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and 0 <= value <= 1 else None


class ServedAucGrader(Grader[ServedAucParams]):
    kind = "served-auc"
    description = "ROC AUC of the served model's probabilities on hidden labelled requests."
    Params = ServedAucParams

    def grade(self, env: EvaluationEnvironment, params: ServedAucParams) -> GradeResult:
        bodies = json.loads(env.hidden_file(params.requests).read_bytes())
        labels = json.loads(env.hidden_file(params.labels).read_bytes())
        instances = instances_of(bodies, params.requests)
        if len(labels) != len(instances) or any(y not in (0, 1) for y in labels):
            raise GraderError(
                f"{params.labels} must hold one 0/1 label per instance of {params.requests} "
                f"({len(instances)} instances, {len(labels)} labels)"
            )
        env.ensure_service()  # DeploymentInvalid (a GraderError) says what is wrong
        report = ask_service(
            env,
            instances,
            endpoint=params.endpoint,
            single=0,
            batch=params.batch_size,
            timeout=params.request_timeout_s,
            key=params.key,
        )
        return score_served(report, labels, params)


def instances_of(bodies: Any, name: str) -> list[Any]:
    if not isinstance(bodies, list) or not bodies:
        raise GraderError(f"{name} must be a non-empty JSON list of request bodies")
    found: list[Any] = []
    for i, body in enumerate(bodies):
        rows = body.get("instances") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            raise GraderError(f"{name}: request {i} has no list under 'instances'")
        found += rows
    return found


def score_served(
    report: dict[str, Any], labels: Sequence[int], params: ServedAucParams
) -> GradeResult:
    """Score the probe's answers: each must be a probability; the others count as ranked
    wrong (see WORST)."""
    answers = [probability(a) for a in report["answers"]]
    malformed = [
        {"index": i, "got": str(raw)[:80]}
        for i, (raw, p) in enumerate(zip(report["answers"], answers, strict=True))
        if p is None and raw is not None
    ]
    answered = [i for i, p in enumerate(answers) if p is not None]
    auc = roc_auc([WORST[y] if p is None else p for p, y in zip(answers, labels, strict=True)],
                  labels)  # fmt: skip
    try:
        answered_auc: float | None = roc_auc(
            [answers[i] or 0.0 for i in answered], [labels[i] for i in answered]
        )
    except ValueError:
        answered_auc = None
    score = auc_score(auc, params)
    errors = len(labels) - len(answered)
    summary = f"AUC {auc:.4f} on {len(labels)} hidden instances (floor {params.floor:g})"
    if errors:
        summary += f"; {errors} without a valid probability, counted as ranked wrong"
    return GradeResult(
        score=round(score, 4),
        passed=auc >= params.floor,
        summary=summary,
        evidence={
            "auc": round(auc, 4),
            "answered_auc": None if answered_auc is None else round(answered_auc, 4),
            "floor": params.floor,
            "instances": len(labels),
            "positives": sum(labels),
            "answered": len(answered),
            "errors": errors,
            "requests": report["requests"],
            "failed_requests": report["problems"][:10],
            "malformed": malformed[:10],
        },
    )
