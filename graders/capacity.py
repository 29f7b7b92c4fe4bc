"""The ``capacity`` grader: locust drives the deployment through the launch profile (phases of
linearly changing rate, fractions of the launch's peak), and each phase is held to the SLO.

While locust runs, a thread samples each replica's cgroup usage (``env.service_usage()``), so
every phase also says how much CPU each replica burnt against what it reserved, how much memory
it reached, and whether it was OOM-killed or restarted: the evidence for whether the declared
deployment was right-sized, not only whether it held.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
from prodproven.graders.curves import Z90, percentile, standard_error
from prodproven.graders.load import (
    Sample,
    SloCurves,
    parse_samples,
    per_second,
    read_payloads,
    request_stats,
    slo_parts,
)
from prodproven.graders.probes import probe
from prodproven.graders.usage import UsageSampler, UsageTrack

PEAK_PHASE = "peak"
"""The phase whose p95 is the deployment's ``peak_p95_ms`` (else the busiest measured one)."""


class Phase(Params):
    name: str = Field(
        min_length=1, max_length=40, description="unique; `peak` names the peak phase"
    )
    seconds: float = Field(gt=0, le=600, description="length of the phase")
    start: float = Field(ge=0, le=10, description="rate at its start, a fraction of peak_rps")
    end: float = Field(ge=0, le=10, description="rate at its end (linear in between)")
    measured: bool = Field(True, description="false: sent but neither scored nor reported")
    slo: bool = Field(False, description="held to the SLO (the requirement's phases)")

    @model_validator(mode="after")
    def _slo_is_measured(self) -> Phase:
        if self.slo and not self.measured:
            raise ValueError(f"phase {self.name}: an slo phase must be measured")
        return self


class CapacityParams(SloCurves):
    payloads: str = Field(
        description="hidden JSON list of request bodies, sent in turn",
        json_schema_extra=HIDDEN_FILE,
    )
    launch: str = Field(
        description='hidden JSON object with the launch\'s "peak_rps"',
        json_schema_extra=HIDDEN_FILE,
    )
    phases: list[Phase] = Field(min_length=1, description="the launch profile, in order")
    endpoint: str = Field("/predict", description="POST path")
    users: int = Field(48, ge=1, le=500, description="concurrent locust users")
    json_key: str | None = Field(
        "predictions", description="a 2xx must be a JSON object with a list under this key"
    )
    request_timeout_s: float = Field(5, gt=0, description="per request")
    window_s: float = Field(
        4, gt=0, description="windows of a phase whose p95s give its noise (p95_sem_ms)"
    )
    sample_interval_s: float = Field(2, gt=0, le=30, description="seconds between usage samples")
    non_slo_weight: float = Field(
        0.15, ge=0, lt=1, description="share of the score from measured phases outside the SLO"
    )

    @model_validator(mode="after")
    def _phases_are_sound(self) -> CapacityParams:
        names = [p.name for p in self.phases]
        if len(set(names)) != len(names):
            raise ValueError(f"phases: names must be unique, got {names}")
        if not any(p.slo for p in self.phases):
            raise ValueError("phases: at least one phase must have slo: true")
        return self


class Launch(BaseModel):
    """The hidden launch.json of a variant: what the launch's traffic really peaks at."""

    model_config = ConfigDict(extra="allow", frozen=True)
    peak_rps: float = Field(gt=0, le=10_000)


def read_launch(env: EvaluationEnvironment, rel: str) -> Launch:
    return read_hidden(env, rel, Launch, 'a launch description with "peak_rps"')


@dataclass(frozen=True)
class Span:
    """A phase placed on the clock: ``start`` and ``end`` in seconds after t0."""

    phase: Phase
    start: float
    end: float
    rps_start: float
    rps_end: float

    @property
    def target_rps(self) -> float:
        return (self.rps_start + self.rps_end) / 2


def spans(phases: Sequence[Phase], peak_rps: float) -> list[Span]:
    placed, at = [], 0.0
    for p in phases:
        placed.append(Span(p, at, at + p.seconds, p.start * peak_rps, p.end * peak_rps))
        at += p.seconds
    return placed


def schedule(placed: Sequence[Span]) -> list[float]:
    """When each request is due (seconds after t0): the k-th where the profile's cumulative
    request count reaches k + 1/2, the rate linear within each phase."""
    due: list[float] = []
    before = 0.0  # requests the earlier phases hold
    for s in placed:
        d, r0, r1 = s.end - s.start, s.rps_start, s.rps_end
        within, a = (r0 + r1) / 2 * d, (r1 - r0) / (2 * d)
        while len(due) + 0.5 <= before + within:
            m = len(due) + 0.5 - before  # > 0: the earlier phases took every k + 1/2 <= before
            root = math.sqrt(max(0.0, r0 * r0 + 4 * a * m))
            tau = m / r0 if abs(a) < 1e-12 else (root - r0) / (2 * a)
            due.append(round(s.start + min(max(tau, 0.0), d), 6))
        before += within
    return due


class CapacityGrader(Grader[CapacityParams]):
    kind = "capacity"
    description = (
        "Drives the deployment through the launch profile and holds its peak phases to the SLO, "
        "with each replica's CPU, memory, OOM kills and restarts per phase."
    )
    Params = CapacityParams
    timed = True  # each phase's p95 under locust
    conditions = {
        "slo_at_peak": Condition[CapacityParams](
            "every slo phase within slo.p95_ms and slo.max_error_rate, at least "
            "min_throughput_ratio of its target rate",
            lambda result, params: slo_at_peak(result, params),
        )
    }

    def grade(self, env: EvaluationEnvironment, params: CapacityParams) -> GradeResult:
        payloads = read_payloads(env, params.payloads)
        launch = read_launch(env, params.launch)
        env.ensure_service()  # DeploymentInvalid (a GraderError) says what is wrong
        placed = spans(params.phases, launch.peak_rps)
        due = schedule(placed)
        config = {
            "endpoint": params.endpoint,
            "rate": max(s.target_rps for s in placed) or 1.0,
            "users": params.users,
            "json_key": params.json_key,
            "timeout": params.request_timeout_s,
        }
        host = f"http://127.0.0.1:{env.service_port}"
        cmd = ["locust", "-f", "/grading/launch_locustfile.py", "--headless", "--only-summary",
               "--host", host, "--loglevel", "WARNING"]  # fmt: skip
        env.log(
            f"locust: launch profile to {launch.peak_rps:g} req/s, {len(due)} requests over "
            f"{placed[-1].end:g}s from {params.users} users"
        )
        files = {
            "locustfile.py": probe("locustfile.py"),
            "launch_locustfile.py": probe("launch_locustfile.py"),
            "in/config.json": json.dumps(config).encode(),
            "in/payloads.json": json.dumps(payloads).encode(),
            "in/schedule.json": json.dumps(due).encode(),
        }
        with UsageSampler(env.service_usage, params.sample_interval_s) as sampler:
            out = env.run_probe(
                files, cmd, timeout=placed[-1].end + params.request_timeout_s + 90, load=True
            )
        if "samples.csv" not in out.files or "meta.json" not in out.files:
            raise GraderError(f"locust produced no samples: {out.result.stderr[-800:]}")
        env.save_artifact("samples.csv", out.files["samples.csv"])
        samples = parse_samples(out.files["samples.csv"])
        meta = json.loads(out.files["meta.json"])
        t0 = float(meta.get("t0") or meta.get("start") or samples[0].start)
        return score_capacity(samples, t0, placed, UsageTrack(sampler.samples, t0), params,
                              usage_problems=sampler.problems)  # fmt: skip


def _phase_result(
    span: Span, samples: list[Sample], t0: float, track: UsageTrack, params: CapacityParams
) -> tuple[dict[str, Any], list[float]]:
    """One phase's evidence, and the scores of its windows (for the grader's sem)."""
    phase, seconds = span.phase, span.end - span.start
    mine = [s for s in samples if span.start <= s.start - t0 < span.end]
    row: dict[str, Any] = {
        "name": phase.name,
        "start_s": span.start,
        "end_s": span.end,
        "slo": phase.slo,
        "target_rps": round(span.target_rps, 2),
        "achieved_rps": round(len(mine) / seconds, 2),
        "replicas": track.phase_usage(span.start, span.end),
    }
    if not mine:
        zero = {"latency": 0.0, "errors": 0.0, "throughput": 0.0}
        return {**row, "requests": 0, "errors": 0, "error_rate": None, "p50_ms": None,
                "p95_ms": None, "p99_ms": None, "p95_sem_ms": None, "parts": zero,
                "score": 0.0}, [0.0]  # fmt: skip
    stats = request_stats(mine)
    ratio = len(mine) / seconds / span.target_rps if span.target_rps > 0 else 1.0
    error_rate = stats["errors"] / stats["requests"]
    parts = slo_parts(stats["p95_ms"], error_rate, ratio, params)
    windows: dict[int, list[Sample]] = {}
    for s in mine:
        windows.setdefault(int((s.start - t0 - span.start) // params.window_s), []).append(s)
    window_p95 = [percentile([s.response_ms for s in w], 95) for w in windows.values()]
    window_scores = [
        math.prod(slo_parts(p95, sum(1 for s in w if s.error) / len(w), ratio, params).values())
        for p95, w in zip(window_p95, windows.values(), strict=True)
    ]
    row |= {
        "requests": stats["requests"],
        "errors": stats["errors"],
        "error_rate": round(error_rate, 4),
        "p50_ms": stats["p50_ms"],
        "p95_ms": stats["p95_ms"],
        "p99_ms": stats["p99_ms"],
        "p95_sem_ms": round(standard_error(window_p95), 2),
        "parts": {k: round(v, 4) for k, v in parts.items()},
        "score": round(math.prod(parts.values()), 4),
    }
    return row, window_scores


def _weighted(rows: list[dict[str, Any]]) -> float:
    seconds = sum(float(r["end_s"] - r["start_s"]) for r in rows)
    return sum(float(r["score"] * (r["end_s"] - r["start_s"])) for r in rows) / seconds


def peak_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The phase named ``peak``, else the measured phase with the highest target rate."""
    named = [r for r in rows if r["name"] == PEAK_PHASE]
    return named[0] if named else max(rows, key=lambda r: r["target_rps"])


def score_capacity(
    samples: list[Sample],
    t0: float,
    placed: Sequence[Span],
    track: UsageTrack,
    params: CapacityParams,
    *,
    usage_problems: Sequence[str] = (),
) -> GradeResult:
    """Score one locust run of the launch profile (``t0``: when the schedule began, epoch s).

    Each measured phase scores latency × errors × throughput with the load grader's curves; the
    score is the length-weighted mean of the slo phases' scores, with ``non_slo_weight`` of it
    from the other measured phases when there are any."""
    rows, slo_windows = [], []
    for span in placed:
        if not span.phase.measured:
            continue
        row, window_scores = _phase_result(span, samples, t0, track, params)
        rows.append(row)
        slo_windows += window_scores if span.phase.slo else []
    held = [r for r in rows if r["slo"]]
    others = [r for r in rows if not r["slo"]]
    w = params.non_slo_weight if others else 0.0
    score = (1 - w) * _weighted(held) + (w * _weighted(others) if others else 0.0)
    passed = all(v == 1.0 for r in held for v in r["parts"].values())
    peak = peak_row(rows)
    duration = placed[-1].end
    summary = "; ".join(
        f"{r['name']}: p95 {r['p95_ms']:.0f} ms, errors {r['error_rate']:.1%}, "
        f"{r['achieved_rps']:g}/{r['target_rps']:g} req/s"
        if r["requests"]
        else f"{r['name']}: no request completed"
        for r in held
    )
    return GradeResult(
        score=round(score, 4),
        passed=passed,
        sem=round((1 - w) * standard_error(slo_windows), 4),
        summary=f"{summary} (SLO p95 {params.slo.p95_ms:g} ms)",
        evidence={
            "phases": rows,
            "peak_phase": peak["name"],
            "peak_p95_ms": peak["p95_ms"],
            "peak_rps_target": peak["target_rps"],
            "peak_rps_achieved": peak["achieved_rps"],
            "slo": params.slo.model_dump(),
            "requests": len(samples),
            "duration_s": duration,
            "replicas": track.summary(duration),
            **track.totals(0.0, duration),
            "series": phase_series(samples, t0, placed),
            "usage_series": track.series(),
            "usage_problems": list(usage_problems)[:5],
            "errors_seen": dict(Counter(s.error for s in samples if s.error).most_common(10)),
        },
    )


def phase_series(samples: list[Sample], t0: float, placed: Sequence[Span]) -> list[dict[str, Any]]:
    """Per second since t0: requests, errors, latency percentiles, the phase and its target."""
    rows = per_second([s for s in samples if s.start >= t0], t0)
    for row in rows:
        span = next((s for s in placed if s.start <= row["t"] < s.end), placed[-1])
        frac = min(1.0, (row["t"] + 0.5 - span.start) / (span.end - span.start))
        row["phase"] = span.phase.name
        row["target_rps"] = round(span.rps_start + (span.rps_end - span.rps_start) * frac, 2)
    return rows


def slo_at_peak(result: GradeResult, params: CapacityParams) -> Verdict:
    """Every slo phase within p95 and error rate and at least ``min_throughput_ratio`` of its
    target. Borderline when the verdict rests on p95s within their noise of the SLO (1.645
    standard errors of the phase's window p95s)."""
    held = [r for r in result.evidence.get("phases", []) if r.get("slo")]
    if result.error or not held:
        return Verdict(False, f"not measured: {result.summary}")
    slo, details, near, failing = params.slo, [], [], []
    for r in held:
        if not r["requests"]:
            details.append(f"{r['name']}: no request completed")
            failing.append((r["name"], False))
            continue
        p95, rate, target = float(r["p95_ms"]), float(r["achieved_rps"]), float(r["target_rps"])
        latency_ok = p95 <= slo.p95_ms
        others_ok = (
            float(r["error_rate"]) <= slo.max_error_rate
            and rate >= params.min_throughput_ratio * target
        )
        is_near = abs(p95 - slo.p95_ms) <= Z90 * float(r.get("p95_sem_ms") or 0.0)
        near += [r["name"]] if is_near else []
        if not (latency_ok and others_ok):
            failing.append((r["name"], others_ok and is_near))
        details.append(
            f"{r['name']}: p95 {p95:.0f} ms {'<=' if latency_ok else '>'} SLO {slo.p95_ms:g} ms, "
            f"errors {float(r['error_rate']):.1%}, {rate:g} of {target:g} req/s"
        )
    met = not failing
    borderline = bool(near) if met else all(flippable for _, flippable in failing)
    detail = "; ".join(details)
    if borderline:
        detail += f" (borderline: p95 within its noise of the SLO in {', '.join(near)})"
    return Verdict(met, detail, borderline)
