"""The ``relevance`` grader: how well a search service ranks hidden paraphrased queries, as
recall@k and MRR@k, scored between the challenge's lexical baseline and its target.

Only the query strings enter the pod: a probe (graders/probes/search_client.py) asks the
service and returns the ids it got; which ids are relevant is known on the host alone. The
search probe is shared with the freshness grader (its probe imports the client).
"""

from __future__ import annotations

import json
import random
import statistics
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field, RootModel, ValidationError

from prodproven.graders.base import (
    HIDDEN_FILE,
    Condition,
    EvaluationEnvironment,
    Grader,
    GraderError,
    GradeResult,
    Params,
    Verdict,
    read_hidden,
)
from prodproven.graders.curves import Z90, percentile, ramp_up, standard_error
from prodproven.graders.probes import probe

BOOTSTRAP_RESAMPLES = 200
"""Resamples of the queries behind the score's standard error (seeded: grading is repeatable)."""


class RelevanceParams(Params):
    queries: str = Field(
        "relevance/queries.json",
        description='hidden JSON list of {"query": str, "relevant": [id, ...]}',
        json_schema_extra=HIDDEN_FILE,
    )
    curve: str = Field(
        "relevance/curve.json",
        description='hidden JSON {"baseline": {metric: value}, "target": {metric: value}, '
        '"how": {...}} for the metrics recall_at_K and mrr_at_K',
        json_schema_extra=HIDDEN_FILE,
    )
    endpoint: str = Field("/search", description='POST path taking {"query": str, "k": int}')
    k: int = Field(10, ge=1, le=100, description="results asked for and scored per query")
    request_timeout_s: float = Field(10, gt=0, description="per request")
    baseline_margin: float = Field(
        0.02, ge=0, lt=1, description="how far under the baseline a metric may be and pass"
    )


class LabelledQuery(BaseModel):
    query: str
    relevant: list[str] = Field(min_length=1)


class LabelledQueries(RootModel[list[LabelledQuery]]):
    root: list[LabelledQuery] = Field(min_length=1)


class RelevanceCurve(BaseModel):
    baseline: dict[str, float]
    target: dict[str, float]
    how: dict[str, str] = Field(default_factory=dict)


class SearchAnswer(BaseModel):
    """What the probe got for one query: ``ids`` best first, None when the request failed or
    its answer was malformed."""

    ids: list[str] | None
    status: int | None
    latency_ms: float
    error: str = ""


class SearchReport(BaseModel):
    answers: list[SearchAnswer]


def recall_at_k(got: Sequence[str], relevant: Collection[str], k: int) -> float:
    """The share of the relevant ids among the first ``k`` got (repeats count once)."""
    return len(set(got[:k]) & set(relevant)) / len(relevant)


def mrr_at_k(got: Sequence[str], relevant: Collection[str], k: int) -> float:
    """1 / the rank of the first relevant id among the first ``k`` got; 0 when none is."""
    return next((1 / rank for rank, i in enumerate(got[:k], 1) if i in relevant), 0.0)


def result_ids(answer: Any, k: int) -> list[str] | None:
    """The first ``k`` ids of a search answer ``{"results": [{"id": str, ...}, ...]}``, or None
    when it is not one (the host-side twin of the probe's check, for recorded answers)."""
    results = answer.get("results") if isinstance(answer, dict) else None
    if not isinstance(results, list):
        return None
    ids = [r.get("id") if isinstance(r, dict) else None for r in results[:k]]
    strings = [i for i in ids if isinstance(i, str)]
    return strings if len(strings) == len(ids) else None


def metric_names(k: int) -> tuple[str, str]:
    return f"recall_at_{k}", f"mrr_at_{k}"


def curve_lines(curve: RelevanceCurve, k: int, name: str) -> dict[str, tuple[float, float]]:
    """(baseline, target) of each metric at ``k``; GraderError unless the curve file has both
    with the target above the baseline."""
    lines = {}
    for metric in metric_names(k):
        if metric not in curve.baseline or metric not in curve.target:
            raise GraderError(f"{name} has no baseline and target for {metric}")
        base, target = curve.baseline[metric], curve.target[metric]
        if target <= base:
            raise GraderError(f"{name}: the target of {metric} ({target}) is not above "
                              f"its baseline ({base})")  # fmt: skip
        lines[metric] = (base, target)
    return lines


def curve_score(means: Mapping[str, float], lines: Mapping[str, tuple[float, float]]) -> float:
    """The mean over the metrics of a ramp from the baseline (0) to the target (1)."""
    ramps = [ramp_up(means[m], zero=base, full=target) for m, (base, target) in lines.items()]
    return sum(ramps) / len(ramps)


def bootstrap_sem(
    values: Sequence[Mapping[str, float]], lines: Mapping[str, tuple[float, float]]
) -> float:
    """The standard deviation of the score over resamples of the queries (a seeded bootstrap,
    so the clipped ramps are accounted for)."""
    rng = random.Random(0)
    scores = []
    for _ in range(BOOTSTRAP_RESAMPLES):
        sample = rng.choices(values, k=len(values))
        means = {m: statistics.fmean(v[m] for v in sample) for m in lines}
        scores.append(curve_score(means, lines))
    return statistics.stdev(scores)


def short_of_baseline(
    means: Mapping[str, float], baseline: Mapping[str, float], margin: float
) -> list[str]:
    """The metrics under their baseline by more than ``margin``."""
    return [m for m, value in means.items() if value < baseline[m] - margin]


def score_relevance(
    queries: Sequence[LabelledQuery],
    answers: Sequence[SearchAnswer],
    curve: RelevanceCurve,
    params: RelevanceParams,
) -> GradeResult:
    """Score the probe's answers: a failed request scores 0 on both metrics for its query."""
    if len(answers) != len(queries):
        raise GraderError(f"the probe answered {len(answers)} of {len(queries)} queries")
    k, lines = params.k, curve_lines(curve, params.k, params.curve)
    recall, mrr = metric_names(k)
    values = [
        {recall: recall_at_k(a.ids or [], q.relevant, k), mrr: mrr_at_k(a.ids or [], q.relevant, k)}
        for q, a in zip(queries, answers, strict=True)
    ]
    means = {m: round(statistics.fmean(v[m] for v in values), 4) for m in lines}
    baseline = {m: base for m, (base, _) in lines.items()}
    target = {m: t for m, (_, t) in lines.items()}
    failed = [
        {"query": q.query, "status": a.status, "error": a.error[:200]}
        for q, a in zip(queries, answers, strict=True)
        if a.ids is None
    ]
    misses = [
        {"query": q.query, "relevant": q.relevant, "got": (a.ids or [])[:3]}
        for q, a, v in zip(queries, answers, values, strict=True)
        if v[recall] == 0
    ]
    latencies = [a.latency_ms for a in answers]
    short = short_of_baseline(means, baseline, params.baseline_margin)
    return GradeResult(
        score=round(curve_score(means, lines), 4),
        passed=not short,
        sem=round(bootstrap_sem(values, lines), 4),
        summary=f"recall@{k} {means[recall]:.3f}, MRR@{k} {means[mrr]:.3f} on {len(queries)} "
        f"hidden queries (baseline {baseline[recall]:.3f}/{baseline[mrr]:.3f}, target "
        f"{target[recall]:.3f}/{target[mrr]:.3f}); {len(failed)} failed requests",
        evidence={
            "metrics": means,
            "metrics_sem": {m: round(standard_error([v[m] for v in values]), 4) for m in lines},
            "baseline": baseline,
            "target": target,
            "how": curve.how,
            "baseline_margin": params.baseline_margin,
            "score_parts": {m: round(curve_score({m: means[m]}, {m: lines[m]}), 4) for m in lines},
            "queries": len(queries),
            "failed_requests": len(failed),
            "failures": failed[:10],
            "misses": len(misses),
            "miss_sample": misses[:10],
            "latency_p50_ms": round(percentile(latencies, 50), 2),
            "latency_p95_ms": round(percentile(latencies, 95), 2),
        },
    )


def at_least_baseline(result: GradeResult, params: RelevanceParams) -> Verdict:
    """Each metric at least its baseline less ``baseline_margin``; borderline when a threshold
    lies inside a metric's 90% interval over the queries."""
    ev = result.evidence
    if result.error or "metrics" not in ev:
        return Verdict(False, f"not measured: {result.summary}")
    means, baseline, sems = ev["metrics"], ev["baseline"], ev.get("metrics_sem", {})
    margin = params.baseline_margin
    short = short_of_baseline(means, baseline, margin)
    parts, borderline = [], False
    for metric, value in means.items():
        floor = baseline[metric] - margin
        parts.append(f"{metric} {value:.3f} {'<' if metric in short else '>='} {floor:.3f} "
                     f"(baseline {baseline[metric]:.3f} - {margin:g})")  # fmt: skip
        borderline |= abs(value - floor) <= Z90 * float(sems.get(metric, 0.0))
    detail = "; ".join(parts) + (" (borderline: within the queries' noise)" if borderline else "")
    return Verdict(not short, detail, borderline)


def run_search_probe(
    env: EvaluationEnvironment, script: str, inputs: Mapping[str, Any], *, timeout: float
) -> bytes:
    """Run ``python /grading/<script> /grading`` in the pod, with search_client.py beside the
    script (which may import it) and each of ``inputs`` as /grading/in/<name>.json; returns the
    probe's /grading/out/answers.json."""
    files = {"search_client.py": probe("search_client.py"), script: probe(script)}
    files |= {f"in/{name}.json": json.dumps(value).encode() for name, value in inputs.items()}
    out = env.run_probe(files, ["python", f"/grading/{script}", "/grading"], timeout=timeout)
    if "answers.json" not in out.files:
        raise GraderError(f"the search probe {script} failed: {out.result.stderr[-800:]}")
    return out.files["answers.json"]


class RelevanceGrader(Grader[RelevanceParams]):
    kind = "relevance"
    description = (
        "Recall@k and MRR@k of the search service on hidden queries, scored from the lexical "
        "baseline to the target."
    )
    Params = RelevanceParams
    conditions = {
        "at_least_baseline": Condition[RelevanceParams](
            "recall@k and MRR@k each at least the baseline less baseline_margin",
            lambda result, params: at_least_baseline(result, params),
        )
    }

    def grade(self, env: EvaluationEnvironment, params: RelevanceParams) -> GradeResult:
        queries = read_hidden(env, params.queries, LabelledQueries, "a list of labelled queries")
        curve = read_hidden(env, params.curve, RelevanceCurve, "a relevance curve")
        curve_lines(curve, params.k, params.curve)  # a bad curve fails before any request
        env.ensure_service()
        config = {"port": env.service_port, "endpoint": params.endpoint, "k": params.k,
                  "timeout": params.request_timeout_s, "threads": 4}  # fmt: skip
        asked = [q.query for q in queries.root]
        raw = run_search_probe(
            env,
            "search_client.py",
            {"config": config, "queries": asked},
            timeout=60 + len(asked) * params.request_timeout_s / 4,
        )
        try:
            report = SearchReport.model_validate_json(raw)
        except ValidationError as exc:
            raise GraderError(f"the search probe wrote an unreadable report: {exc}") from exc
        return score_relevance(queries.root, report.answers, curve, params)
