"""The ``correctness`` grader: hidden inputs in, compared with hidden reference outputs."""

from __future__ import annotations

import json
from collections import Counter
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
from prodproven.graders.probes import probe


class CorrectnessParams(Params):
    inputs: str = Field(
        "correctness/inputs.json",
        description="hidden JSON list of instances",
        json_schema_extra=HIDDEN_FILE,
    )
    expected: str = Field(
        "correctness/expected.json",
        description="hidden JSON list of the right outputs",
        json_schema_extra=HIDDEN_FILE,
    )
    endpoint: str = Field("/predict", description="POST path taking {'instances': [...]}")
    single_requests: int = Field(
        100, ge=0, description="how many instances are sent one per request (the rest batched)"
    )
    batch_size: int = Field(64, ge=1, description="instances per request after the single ones")
    request_timeout_s: float = Field(10, gt=0)
    pass_threshold: float = Field(0.99, ge=0, le=1, description="match fraction that passes")
    chance_corrected: bool = Field(
        True,
        description="score only the matches beyond what the best constant answer (the most "
        "common expected output) gets, so answering everything with one value scores 0",
    )


class CorrectnessGrader(Grader[CorrectnessParams]):
    kind = "correctness"
    description = "Sends hidden inputs to the service and scores the fraction answered right."
    Params = CorrectnessParams

    def grade(self, env: EvaluationEnvironment, params: CorrectnessParams) -> GradeResult:
        inputs = json.loads(env.hidden_file(params.inputs).read_bytes())
        expected = json.loads(env.hidden_file(params.expected).read_bytes())
        if len(inputs) != len(expected) or not inputs:
            raise GraderError(
                f"{params.inputs} and {params.expected} must be equally long, non-empty lists"
            )
        env.ensure_service()
        report = ask_service(
            env,
            inputs,
            endpoint=params.endpoint,
            single=params.single_requests,
            batch=params.batch_size,
            timeout=params.request_timeout_s,
        )
        return score_answers(report, expected, params.pass_threshold, params.chance_corrected)


def ask_service(
    env: EvaluationEnvironment,
    instances: list[Any],
    *,
    endpoint: str,
    single: int,
    batch: int,
    timeout: float,
    key: str = "predictions",
) -> dict[str, Any]:
    """Send ``instances`` to the service from a probe in the pod (the first ``single`` one per
    request, the rest in batches) and return its report: ``answers`` (the value under ``key``
    for each instance, None where its request failed), ``problems`` and ``requests``."""
    cmd = ["python", "/grading/probe.py", str(env.service_port), endpoint, str(single),
           str(batch), str(timeout), key]  # fmt: skip
    out = env.run_probe(
        {"probe.py": probe("http_client.py"), "in/inputs.json": json.dumps(instances).encode()},
        cmd,
        timeout=60 + (single + len(instances) / batch) * timeout,
    )
    if "answers.json" not in out.files:
        raise GraderError(f"the service probe failed: {out.result.stderr[-800:]}")
    report: dict[str, Any] = json.loads(out.files["answers.json"])
    return report


def score_answers(
    report: dict[str, Any], expected: list[Any], threshold: float, chance_corrected: bool = True
) -> GradeResult:
    answers = report["answers"]
    mismatches = [
        {"index": i, "expected": want, "got": got}
        for i, (got, want) in enumerate(zip(answers, expected, strict=True))
        if not _same(got, want)
    ]
    matched = len(expected) - len(mismatches)
    fraction = matched / len(expected)
    _, constant = best_constant(expected)
    score = fraction
    if chance_corrected and constant < 1:
        score = max(0.0, (fraction - constant) / (1 - constant))
    return GradeResult(
        score=round(score, 6),
        passed=fraction >= threshold,
        summary=f"{matched}/{len(expected)} hidden inputs answered correctly "
        f"({len(report['problems'])} failed requests)",
        evidence={
            "matched": matched,
            "total": len(expected),
            "match_fraction": round(fraction, 4),
            "constant_answer_fraction": round(constant, 4),
            "requests": report["requests"],
            "failed_requests": report["problems"][:20],
            "mismatches": mismatches[:20],
        },
    )


def best_constant(expected: list[Any]) -> tuple[Any, float]:
    """The most common value of ``expected`` and the share it makes up: what answering every
    input with one hard-coded value would match at best."""
    value, count = Counter(json.dumps(v, sort_keys=True) for v in expected).most_common(1)[0]
    return json.loads(value), count / len(expected)


def _same(got: Any, want: Any) -> bool:
    if isinstance(got, bool) or got is None:
        return False
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return float(got) == float(want)
    return bool(got == want)
