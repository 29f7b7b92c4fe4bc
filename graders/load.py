"""The ``load`` grader: locust drives the service at a steady rate; latency, errors and
throughput are scored against the SLO declared in the spec.

Latency on a shared 2-core machine is noisy, so the measured period is split into windows and
the graded p95 is the median of the windows' p95; the spread between windows is reported with
it, so a reviewer sees how much the figure can be trusted.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from prodproven.graders.base import (
    HIDDEN_FILE,
    Condition,
    EvaluationEnvironment,
    Grader,
    GraderError,
    GradeResult,
    Params,
    Verdict,
)
from prodproven.graders.curves import Z90, cliff_down, median, percentile, ramp_up, standard_error
from prodproven.graders.probes import probe


class Slo(Params):
    p95_ms: float = Field(gt=0, description="p95 latency the service must stay under")
    max_error_rate: float = Field(0.01, ge=0, lt=1, description="share of failed requests allowed")


class SloCurves(Params):
    """The SLO and the curves that score a measured stretch of load against it (shared by the
    ``load`` and ``capacity`` graders)."""

    slo: Slo
    latency_zero_factor: float = Field(
        2.0,
        gt=1,
        description="p95 at this multiple of the SLO scores 0 (just over the SLO keeps half "
        "of the latency points, falling linearly to 0 here)",
    )
    error_zero_rate: float = Field(
        0.10,
        gt=0,
        le=1,
        description="error rate that scores 0 (just over max_error_rate keeps half of the "
        "error points)",
    )
    min_throughput_ratio: float = Field(
        0.9, gt=0, le=1, description="achieved/target rate needed for full marks"
    )


class LoadParams(SloCurves):
    payloads: str = Field(
        description="hidden JSON list of request bodies, sent in turn",
        json_schema_extra=HIDDEN_FILE,
    )
    endpoint: str = Field("/predict", description="POST path")
    rate: float = Field(20, gt=0, le=2000, description="requests per second, all users together")
    users: int = Field(8, ge=1, le=500, description="concurrent locust users")
    warmup_s: float = Field(3, ge=0, description="seconds sent but not measured")
    windows: int = Field(3, ge=1, le=20, description="measured windows")
    window_s: float = Field(8, gt=0, description="length of each window")
    json_key: str | None = Field(
        "predictions", description="a 2xx must be a JSON object with a list under this key"
    )
    request_timeout_s: float = Field(10, gt=0)


@dataclass(frozen=True)
class Sample:
    start: float
    response_ms: float
    error: str


class LoadGrader(Grader[LoadParams]):
    kind = "load"
    description = (
        "Drives the service with locust at a steady rate and scores p95, errors, throughput."
    )
    Params = LoadParams
    timed = True  # p95 latency and throughput under locust
    conditions = {
        "slo": Condition[LoadParams](
            "p95 within slo.p95_ms, error rate within slo.max_error_rate and at least "
            "min_throughput_ratio of the target rate",
            lambda result, params: slo_held(result, params),
        )
    }

    def grade(self, env: EvaluationEnvironment, params: LoadParams) -> GradeResult:
        payloads = read_payloads(env, params.payloads)
        env.ensure_service()
        run = drive_steady(env, params, payloads)
        return score_load(run.samples, run.start, params)


@dataclass(frozen=True)
class LocustRun:
    """What one steady locust run measured: every request, when the load began (epoch
    seconds), and the files the probe left (samples.csv, meta.json, answers.jsonl if routed)."""

    samples: list[Sample]
    start: float
    files: Mapping[str, bytes]


def drive_steady(
    env: EvaluationEnvironment, params: LoadParams, payloads: list[Any], *, routed: bool = False
) -> LocustRun:
    """Send ``payloads`` in turn at ``params.rate`` for the warm-up and the windows, from the
    steady locust probe in the pod. ``routed``: each payload is a request of its own
    (``{"path", "body", "key", "record"}``, see graders/probes/locustfile.py)."""
    duration = params.warmup_s + params.windows * params.window_s
    config = {
        "endpoint": params.endpoint,
        "rate": params.rate,
        "users": params.users,
        "json_key": params.json_key,
        "timeout": params.request_timeout_s,
        "routed": routed,
    }
    cmd = ["locust", "-f", "/grading/locustfile.py", "--headless", "--only-summary",
           "-u", str(params.users), "-r", str(params.users), "--run-time",
           f"{math.ceil(duration)}s", "--stop-timeout", "2",
           "--host", f"http://127.0.0.1:{env.service_port}", "--loglevel", "WARNING"]  # fmt: skip
    env.log(f"locust: {params.rate:g} req/s from {params.users} users for {duration:g}s")
    out = env.run_probe(
        {
            "locustfile.py": probe("locustfile.py"),
            "in/config.json": json.dumps(config).encode(),
            "in/payloads.json": json.dumps(payloads).encode(),
        },
        cmd,
        timeout=duration + 60,
        load=True,
    )
    if "samples.csv" not in out.files or "meta.json" not in out.files:
        raise GraderError(f"locust produced no samples: {out.result.stderr[-800:]}")
    env.save_artifact("samples.csv", out.files["samples.csv"])
    samples = parse_samples(out.files["samples.csv"])
    start = float(json.loads(out.files["meta.json"]).get("start") or samples[0].start)
    return LocustRun(samples, start, out.files)


def read_payloads(env: EvaluationEnvironment, rel: str) -> list[Any]:
    """The hidden request bodies locust sends in turn; GraderError unless a non-empty list."""
    payloads = json.loads(env.hidden_file(rel).read_bytes())
    if not isinstance(payloads, list) or not payloads:
        raise GraderError(f"{rel} must be a non-empty JSON list of bodies")
    return payloads


def parse_samples(data: bytes) -> list[Sample]:
    reader = csv.DictReader(io.StringIO(data.decode()))
    return [Sample(float(r["start"]), float(r["response_ms"]), r["error"]) for r in reader]


def request_stats(samples: list[Sample]) -> dict[str, float]:
    times = [s.response_ms for s in samples]
    return {
        "requests": len(samples),
        "errors": sum(1 for s in samples if s.error),
        "p50_ms": round(percentile(times, 50), 2),
        "p95_ms": round(percentile(times, 95), 2),
        "p99_ms": round(percentile(times, 99), 2),
        "max_ms": round(max(times), 2) if times else math.nan,
    }


def _parts(
    p95: float, error_rate: float, throughput: float, params: LoadParams
) -> dict[str, float]:
    return slo_parts(p95, error_rate, throughput / params.rate, params)


def slo_parts(
    p95: float, error_rate: float, throughput_ratio: float, params: SloCurves
) -> dict[str, float]:
    """The three factors of the score: latency and errors are limits (a cliff at the SLO),
    throughput (achieved over target rate) a ramp up to the required share of the target."""
    slo = params.slo
    return {
        "latency": cliff_down(p95, limit=slo.p95_ms, zero=slo.p95_ms * params.latency_zero_factor),
        "errors": cliff_down(
            error_rate,
            limit=slo.max_error_rate,
            zero=max(params.error_zero_rate, slo.max_error_rate * 2),
        ),
        "throughput": ramp_up(
            throughput_ratio,
            zero=0.5 * params.min_throughput_ratio,
            full=params.min_throughput_ratio,
        ),
    }


def _product(parts: dict[str, float]) -> float:
    return parts["latency"] * parts["errors"] * parts["throughput"]


def score_load(samples: list[Sample], start: float, params: LoadParams) -> GradeResult:
    """Score samples of one locust run; ``start`` is when the load began (epoch seconds)."""
    measured_from = start + params.warmup_s
    windows: list[list[Sample]] = [[] for _ in range(params.windows)]
    for s in samples:
        index = math.floor((s.start - measured_from) / params.window_s)
        if 0 <= index < params.windows:
            windows[index].append(s)
    measured = [s for w in windows for s in w]
    if not measured:
        return GradeResult.failed("no request completed during the measured windows")
    window_stats = [request_stats(w) for w in windows if w]
    window_p95s = [w["p95_ms"] for w in window_stats]
    p95 = median(window_p95s)
    spread = max(window_p95s) - min(window_p95s)
    overall = request_stats(measured)
    error_rate = overall["errors"] / overall["requests"]
    throughput = overall["requests"] / (params.windows * params.window_s)
    slo = params.slo
    parts = _parts(p95, error_rate, throughput, params)
    score = _product(parts)
    # Each window scored on its own: their spread is this grading's noise on the score.
    window_scores = [
        _product(_parts(w["p95_ms"], w["errors"] / w["requests"], throughput, params))
        for w in window_stats
    ]
    passed = all(v == 1.0 for v in parts.values())
    errors_seen: dict[str, int] = {}
    for s in measured:
        if s.error:
            errors_seen[s.error] = errors_seen.get(s.error, 0) + 1
    return GradeResult(
        score=round(score, 4),
        passed=passed,
        sem=round(standard_error(window_scores), 4),
        summary=(
            f"p95 {p95:.1f} ms (SLO {slo.p95_ms:g} ms, spread {spread:.1f} ms over "
            f"{len(window_stats)} windows), errors {error_rate:.1%}, "
            f"{throughput:.1f}/{params.rate:g} req/s"
        ),
        evidence={
            "p95_ms": round(p95, 2),
            "p95_spread_ms": round(spread, 2),
            "p95_sem_ms": round(standard_error(window_p95s), 2),
            "p50_ms": overall["p50_ms"],
            "p99_ms": overall["p99_ms"],
            "overall_p95_ms": overall["p95_ms"],
            "error_rate": round(error_rate, 4),
            "throughput_rps": round(throughput, 2),
            "target_rps": params.rate,
            "requests": overall["requests"],
            "slo": slo.model_dump(),
            "score_parts": {k: round(v, 4) for k, v in parts.items()},
            "window_scores": [round(v, 4) for v in window_scores],
            "windows": window_stats,
            "errors_seen": dict(sorted(errors_seen.items(), key=lambda kv: -kv[1])[:10]),
            "series": per_second(samples, start),
        },
    )


def slo_held(result: GradeResult, params: LoadParams) -> Verdict:
    """The ``slo`` condition: p95 within the SLO, errors under the limit and the target rate
    reached. Borderline when the SLO lies inside the p95's 90% interval over the windows."""
    ev = result.evidence
    if result.error or "p95_ms" not in ev:
        return Verdict(False, f"not measured: {result.summary}")
    slo = params.slo
    p95, sem = float(ev["p95_ms"]), float(ev.get("p95_sem_ms", 0.0))
    rate, error_rate = float(ev["throughput_rps"]), float(ev["error_rate"])
    latency_ok = p95 <= slo.p95_ms
    errors_ok = error_rate <= slo.max_error_rate
    rate_ok = rate >= params.min_throughput_ratio * params.rate
    detail = "; ".join(
        [
            f"p95 {p95:.0f} ms {'<=' if latency_ok else '>'} SLO {slo.p95_ms:g} ms",
            f"errors {error_rate:.1%} {'<=' if errors_ok else '>'} {slo.max_error_rate:.1%}",
            f"{rate:.1f} of {params.rate:g} req/s",
        ]
    )
    borderline = abs(p95 - slo.p95_ms) <= Z90 * sem
    if borderline:
        detail += f" (borderline: p95 within its noise, ±{Z90 * sem:.0f} ms, of the SLO)"
    return Verdict(latency_ok and errors_ok and rate_ok, detail, borderline)


def per_second(samples: list[Sample], start: float) -> list[dict[str, Any]]:
    """Requests, errors and latency percentiles for each second since ``start`` (for plots)."""
    buckets: dict[int, list[Sample]] = {}
    for s in samples:
        buckets.setdefault(max(0, int(s.start - start)), []).append(s)
    return [{"t": t, **request_stats(b)} for t, b in sorted(buckets.items())]
