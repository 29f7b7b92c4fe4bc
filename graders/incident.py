"""The ``incident`` grader: time to mitigate an injected fault, from the SLO prober's record.

Time to mitigate runs from the injection to the start of the first healthy window that held
for the SLO's stability period (graders/slo.py). The score follows one curve::

    score = 0.5 ** (max(0, ttm - grace_s) / half_life_s)      never mitigated: 0

then halves (``unhealthy_end_factor``) when the service is not healthy at the end of the run.
Several incidents in one run score the mean. The evidence is the timeline, ready to plot, with
when the on-call alert paged the candidate and when they acknowledged it (evidence only: the
score does not use them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field

from prodproven.graders.base import (
    Condition,
    EvaluationEnvironment,
    Grader,
    GraderError,
    GradeResult,
    Params,
    Verdict,
)
from prodproven.graders.slo import Alert, Analysis, IncidentRecord, Injection, analyse

MAX_SERIES = 1200
"""Most points of the latency/health series kept as evidence (longer runs are thinned)."""


class IncidentParams(Params):
    grace_s: float = Field(30, ge=0, description="time to mitigate that still earns full credit")
    half_life_s: float = Field(
        600, gt=0, description="each this many seconds past grace_s halves the score"
    )
    unhealthy_end_factor: float = Field(
        0.5, ge=0, le=1, description="score multiplier when the service ends the run unhealthy"
    )
    pass_score: float = Field(0.5, ge=0, le=1, description="score that counts as passed")


def mitigation_score(ttm_s: float | None, grace_s: float, half_life_s: float) -> float:
    """The documented curve over time to mitigate (None: never mitigated)."""
    if ttm_s is None:
        return 0.0
    return float(0.5 ** (max(0.0, ttm_s - grace_s) / half_life_s))


class IncidentGrader(Grader[IncidentParams]):
    kind = "incident"
    description = "Scores time to mitigate each injected fault from the SLO prober's samples."
    Params = IncidentParams
    conditions = {
        "restored": Condition[IncidentParams](
            "every injected fault was mitigated and the service was healthy at the end of "
            "the run, as the prober saw it",
            lambda result, params: restored(result),
        )
    }

    def grade(self, env: EvaluationEnvironment, params: IncidentParams) -> GradeResult:
        return score_record(env.incident(), params)


def score_record(record: IncidentRecord, params: IncidentParams) -> GradeResult:
    if not record.injections:
        why = "; ".join(record.missed) or "nothing was scheduled"
        raise GraderError(
            f"no fault was injected in this run, so there is nothing to grade ({why})"
        )
    if not record.samples:
        raise GraderError("the prober recorded no samples in this run")
    parts = []
    for injection in record.injections:
        found = analyse(record, injection)
        score = mitigation_score(found.time_to_mitigate_s, params.grace_s, params.half_life_s)
        if not found.healthy_at_end:
            score *= params.unhealthy_end_factor
        parts.append(Part(injection, found, score, paged_by(record, injection)))
    score = sum(p.score for p in parts) / len(parts)
    return GradeResult(
        score=score,
        passed=score >= params.pass_score,
        summary="; ".join(_summary(part) for part in parts),
        evidence={
            "incidents": [_evidence(part) for part in parts],
            "alerts": [_alert(alert) for alert in record.alerts],
            "slo": {
                "latency_ms": record.slo.latency_ms,
                "stability_s": record.slo.stability_s,
                "interval_s": record.slo.interval_s,
                "target": record.slo.target,
            },
            "samples": len(record.samples),
            "series": _series(record),
            "missed": record.missed,
        },
    )


@dataclass(frozen=True)
class Part:
    """One injection: what followed it, its score and the alert its break fired (if any)."""

    injection: Injection
    found: Analysis
    score: float
    alert: Alert | None


def paged_by(record: IncidentRecord, injection: Injection) -> Alert | None:
    """The alert the injection's break fired: the first that fired at or after the injection
    and before the next one (an alert already open when the fault came fired for something
    else)."""
    later = [i.at for i in record.injections if i.at > injection.at]
    until = min(later, default=float("inf"))
    return next(
        (a for a in record.alerts if injection.at <= a.fired_at < until),
        None,
    )


def _summary(part: Part) -> str:
    injection, found = part.injection, part.found
    ttm = found.time_to_mitigate_s
    head = (
        f"{injection.fault}: not mitigated"
        if ttm is None
        else f"{injection.fault}: mitigated {ttm:.0f} s after injection"
    )
    seen = found.detected_by_prober_s
    broke = "the SLO never broke" if seen is None else f"SLO broke {seen:.0f} s after injection"
    end = "healthy at the end" if found.healthy_at_end else "unhealthy at the end"
    return f"{head} ({broke}{_paged(part)}; {found.bad_s:.0f} s unhealthy; {end})"


def _paged(part: Part) -> str:
    """The alert's part of the summary: nothing when the SLO never broke."""
    alert = part.alert
    if alert is None:
        return "" if part.found.broke_at is None else "; no alert fired"
    paged = f"; paged {alert.fired_at - part.injection.at:.0f} s after injection"
    if alert.acknowledged_at is None:
        return f"{paged}, never acknowledged"
    return f"{paged}, acknowledged after {alert.acknowledged_at - part.injection.at:.0f} s"


def _evidence(part: Part) -> dict[str, Any]:
    injection, found, score, alert = part.injection, part.found, part.score, part.alert

    def rel(t: float | None) -> float | None:
        return None if t is None else round(t - found.injected_at, 2)

    return {
        "event": injection.event,
        "fault": injection.fault,
        "root_cause": injection.root_cause,
        "injected_at": found.injected_at,
        "broke_after_s": rel(found.broke_at),
        "time_to_mitigate_s": rel(found.mitigated_at),
        "alert": alert.id if alert else None,
        "alerted_after_s": rel(alert.fired_at) if alert else None,
        "acknowledged_after_s": rel(alert.acknowledged_at) if alert else None,
        "unhealthy_s": found.bad_s,
        "error_budget_s": round(found.budget_s, 2),
        "budget_burned": round(found.budget_burned, 3),
        "healthy_at_end": found.healthy_at_end,
        "score": round(score, 4),
        "timeline": [
            {
                "start_s": rel(w.start),
                "end_s": rel(w.end),
                "healthy": w.healthy,
                "samples": w.samples,
                "problem": w.problem,
            }
            for w in found.windows
        ],
    }


def _alert(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "fired_at": alert.fired_at,
        "acknowledged_at": alert.acknowledged_at,
        "resolved_at": alert.resolved_at,
        "symptom": alert.symptom,
    }


def _series(record: IncidentRecord) -> list[list[Any]]:
    """[t, latency_ms, status, healthy] per sample: healthy ones thinned to about MAX_SERIES
    points, unhealthy ones all kept, so no break disappears from a plot."""
    ordered = sorted(record.samples, key=lambda s: s.t)
    step = max(1, -(-len(ordered) // MAX_SERIES))
    kept = [s for i, s in enumerate(ordered) if i % step == 0 or not s.healthy(record.slo)]
    return [[s.t, s.latency_ms, s.status, s.healthy(record.slo)] for s in kept]


def restored(result: GradeResult) -> Verdict:
    """The ``restored`` condition: each incident mitigated, the service healthy at the end."""
    incidents = result.evidence.get("incidents")
    if result.error or not incidents:
        return Verdict(False, f"not measured: {result.summary}")
    problems = []
    for incident in incidents:
        if incident["time_to_mitigate_s"] is None:
            problems.append(f"{incident['fault']} never mitigated")
        if not incident["healthy_at_end"]:
            problems.append(f"{incident['fault']}: unhealthy at the end of the run")
    if problems:
        return Verdict(False, "; ".join(problems))
    times = ", ".join(
        f"{i['fault']} mitigated after {i['time_to_mitigate_s']:.0f} s" for i in incidents
    )
    return Verdict(True, f"{times}; healthy at the end")
