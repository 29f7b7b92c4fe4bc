"""The capacity grader: the launch schedule, the phase split, per-phase usage, the score, the
``slo_at_peak`` condition and an invalid deployment, with synthetic locust samples."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from prodproven.graders.base import GraderError, GradeResult
from prodproven.graders.capacity import (
    CapacityGrader,
    CapacityParams,
    Span,
    schedule,
    score_capacity,
    slo_at_peak,
    spans,
)
from prodproven.graders.deployment import DeploymentInvalid
from prodproven.graders.load import Sample
from prodproven.graders.usage import UsageSample, UsageTrack
from tests.unit.evaluationsupport import FakeEnv, replica

T0 = 1_800_000_000.0
PEAK = 20.0
PHASES = [
    {"name": "warm-up", "seconds": 4, "start": 0.2, "end": 0.2, "measured": False},
    {"name": "baseline", "seconds": 10, "start": 0.5, "end": 0.5},
    {"name": "peak", "seconds": 20, "start": 1.0, "end": 1.0, "slo": True},
    {"name": "spike", "seconds": 8, "start": 1.25, "end": 1.25, "slo": True},
]


def params(**changes: Any) -> CapacityParams:
    base = {
        "payloads": "p.json",
        "launch": "launch.json",
        "phases": PHASES,
        "slo": {"p95_ms": 200, "max_error_rate": 0.01},
    }
    return CapacityParams.model_validate({**base, **changes})


def placed(p: CapacityParams | None = None) -> list[Span]:
    return spans((p or params()).phases, PEAK)


def run(
    latency: Callable[[str, int], float],
    *,
    keep: Callable[[str, int], bool] = lambda n, i: True,
    error: Callable[[str, int], str] = lambda n, i: "",
) -> list[Sample]:
    """One sample per scheduled request (phase name, index within the phase -> value)."""
    where = placed()
    out, counts = [], dict.fromkeys((s.phase.name for s in where), 0)
    for due in schedule(where):
        name = next(s.phase.name for s in where if s.start <= due < s.end)
        i = counts[name] = counts[name] + 1
        if keep(name, i):
            out.append(Sample(T0 + due, latency(name, i), error(name, i)))
    return out


NO_USAGE = UsageTrack([], T0)


def score(
    samples: list[Sample], p: CapacityParams | None = None, track: UsageTrack = NO_USAGE
) -> GradeResult:
    p = p or params()
    return score_capacity(samples, T0, spans(p.phases, PEAK), track, p)


# the schedule ---------------------------------------------------------------------------


def test_a_steady_phase_is_sent_evenly_at_its_rate() -> None:
    due = schedule(spans(params(phases=[{**PHASES[2], "seconds": 2}]).phases, 10.0))
    assert due == pytest.approx([0.05 + 0.1 * k for k in range(20)])


def test_each_phase_holds_its_rate_times_its_length_of_requests() -> None:
    due = schedule(placed())
    assert len(due) == 0.2 * 20 * 4 + 0.5 * 20 * 10 + 20 * 20 + 1.25 * 20 * 8
    assert sum(1 for t in due if 14 <= t < 34) == 400
    assert due == sorted(due)


def test_a_ramp_sends_more_requests_as_its_rate_rises() -> None:
    ramp = {"name": "ramp", "seconds": 10, "start": 0.0, "end": 1.0, "slo": True}
    due = schedule(spans(params(phases=[ramp]).phases, 20.0))
    assert len(due) == 100  # the mean rate, 10 req/s, for 10 s
    first, second = sum(1 for t in due if t < 5), sum(1 for t in due if t >= 5)
    assert (first, second) == (25, 75)  # the integral of a linear rate: a quarter, then the rest


def test_a_request_due_at_a_phase_boundary_is_sent_once() -> None:
    first = {"name": "a", "seconds": 1, "start": 1.5, "end": 1.5, "slo": True}
    second = {"name": "b", "seconds": 1, "start": 0.5, "end": 0.5}
    due = schedule(spans(params(phases=[first, second]).phases, 1.0))
    assert due == pytest.approx([1 / 3, 1.0])  # 2 requests in all; the second ends phase a


def test_a_phase_at_rate_zero_sends_nothing() -> None:
    pause = {"name": "pause", "seconds": 5, "start": 0, "end": 0}
    due = schedule(spans(params(phases=[pause, PHASES[2]]).phases, 10.0))
    assert len(due) == 200 and min(due) > 5


def test_spans_place_phases_back_to_back_at_fractions_of_the_peak() -> None:
    found = placed()
    assert [(s.start, s.end) for s in found] == [(0, 4), (4, 14), (14, 34), (34, 42)]
    assert [s.target_rps for s in found] == [4.0, 10.0, 20.0, 25.0]


@pytest.mark.parametrize(
    ("phases", "problem"),
    [
        ([{**PHASES[2], "measured": False}], "an slo phase must be measured"),
        ([PHASES[2], PHASES[2]], "names must be unique"),
        ([PHASES[1]], "at least one phase must have slo: true"),
    ],
)
def test_unsound_profiles_are_refused(phases: list[dict[str, Any]], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        params(phases=phases)


# the score -------------------------------------------------------------------------------


def test_a_deployment_that_holds_every_phase_scores_full_and_meets_the_condition() -> None:
    result = score(run(lambda name, i: 40.0))
    assert result.score == 1.0 and result.passed
    names = [p["name"] for p in result.evidence["phases"]]
    assert names == ["baseline", "peak", "spike"]  # warm-up is sent but not reported
    peak = result.evidence["phases"][1]
    assert (peak["requests"], peak["achieved_rps"], peak["target_rps"]) == (400, 20.0, 20.0)
    assert result.evidence["peak_p95_ms"] == 40.0
    assert (result.evidence["peak_rps_target"], result.evidence["peak_rps_achieved"]) == (20, 20)
    verdict = slo_at_peak(result, params())
    assert verdict.met and not verdict.borderline
    assert "peak: p95 40 ms <= SLO 200 ms, errors 0.0%, 20 of 20 req/s" in verdict.detail


def test_a_spike_that_breaks_the_slo_fails_the_condition_and_costs_its_share() -> None:
    result = score(run(lambda name, i: 450.0 if name == "spike" else 40.0))
    assert not result.passed
    spike = result.evidence["phases"][2]
    assert spike["parts"]["latency"] == 0.0
    # slo phases weigh by length: peak 20 s at 1, spike 8 s at 0, then 0.85 of that + 0.15
    assert result.score == pytest.approx(0.85 * 20 / 28 + 0.15, abs=1e-4)
    verdict = slo_at_peak(result, params())
    assert not verdict.met and "spike: p95 450 ms > SLO 200 ms" in verdict.detail


def test_a_slow_baseline_outside_the_slo_costs_a_little_and_does_not_fail() -> None:
    result = score(run(lambda name, i: 450.0 if name == "baseline" else 40.0))
    assert result.passed and slo_at_peak(result, params()).met
    assert result.score == pytest.approx(0.85)


def test_without_measured_phases_outside_the_slo_the_slo_phases_are_the_whole_score() -> None:
    p = params(phases=[PHASES[0], {**PHASES[1], "measured": False}, PHASES[2], PHASES[3]])
    samples = run(lambda name, i: 450.0 if name in ("baseline", "spike") else 40.0)
    assert score(samples, p).score == pytest.approx(20 / 28, abs=1e-4)


def test_requests_not_sent_at_peak_fail_the_throughput_part() -> None:
    result = score(run(lambda name, i: 40.0, keep=lambda name, i: name != "peak" or i % 2 == 0))
    peak = result.evidence["phases"][1]
    assert peak["achieved_rps"] == 10.0 and peak["parts"]["throughput"] < 1
    verdict = slo_at_peak(result, params())
    assert not verdict.met and "10 of 20 req/s" in verdict.detail


def test_errors_at_peak_over_the_limit_fail() -> None:
    result = score(run(lambda n, i: 40.0, error=lambda n, i: "HTTP 503" if i % 20 == 0 else ""))
    assert result.evidence["phases"][1]["error_rate"] == 0.05
    assert result.evidence["errors_seen"] == {"HTTP 503": 5 + 20 + 10}  # baseline, peak, spike
    assert not result.passed and not slo_at_peak(result, params()).met


def test_a_phase_without_any_answer_scores_zero() -> None:
    result = score(run(lambda name, i: 40.0, keep=lambda name, i: name != "spike"))
    spike = result.evidence["phases"][2]
    assert spike["requests"] == 0 and spike["score"] == 0.0
    verdict = slo_at_peak(result, params())
    assert not verdict.met and "spike: no request completed" in verdict.detail


def test_a_p95_within_its_noise_of_the_slo_is_borderline() -> None:
    # the p95 of the peak's windows swings between well under and just over the SLO
    def latency(name: str, i: int) -> float:
        window = (i - 1) // 80  # 4 s windows at 20 req/s
        return (150.0 if window % 2 else 210.0) if i % 10 == 0 else 40.0

    result = score(run(latency))
    verdict = slo_at_peak(result, params())
    assert not verdict.met and verdict.borderline and "borderline" in verdict.detail


def test_a_failed_result_meets_no_condition() -> None:
    verdict = slo_at_peak(GradeResult.failed("deploy.yaml: replicas: 6 is above 4"), params())
    assert not verdict.met and "not measured" in verdict.detail


def test_the_series_has_a_row_per_second_with_its_phase_and_target() -> None:
    rows = score(run(lambda name, i: 40.0)).evidence["series"]
    by_t = {r["t"]: r for r in rows}
    assert by_t[0]["phase"] == "warm-up" and by_t[20]["phase"] == "peak"
    assert (by_t[20]["target_rps"], by_t[20]["requests"]) == (20.0, 20)


# replica usage -----------------------------------------------------------------------------


def track(*readings: tuple[float, list[Any]]) -> UsageTrack:
    return UsageTrack([UsageSample(T0 + t, tuple(r)) for t, r in readings], T0)


def test_cpu_seconds_are_interpolated_to_each_phase() -> None:
    usage = track((0, [replica("service-1", 0)]), (42, [replica("service-1", 42 * 0.25)]))
    result = score(run(lambda n, i: 40.0), track=usage)
    peak = result.evidence["phases"][1]["replicas"]["service-1"]
    assert peak["cpu_seconds"] == pytest.approx(5.0)  # 20 s at a quarter of a core
    assert peak["utilisation"] == pytest.approx(0.5)  # of the 0.5 cpus it reserved
    assert result.evidence["utilisation"] == pytest.approx(0.5)
    assert result.evidence["reserved_cpu_seconds"] == pytest.approx(21.0)


def test_each_replica_reports_its_limits_and_totals() -> None:
    usage = track(
        (0, [replica("service-1", 0), replica("service-2", 0)]),
        (42, [replica("service-1", 4.2), replica("service-2", 8.4, oom_kills=2, restarts=2)]),
    )
    rows = {r["name"]: r for r in score(run(lambda n, i: 40.0), track=usage).evidence["replicas"]}
    assert rows["service-2"] == {
        "name": "service-2", "cpus": 0.5, "memory_mb": 512, "cpu_seconds": 8.4,
        "utilisation": 0.4, "memory_peak_mb": 250.0, "oom_kills": 2, "restarts": 2,
        "state": "running",
    }  # fmt: skip
    assert rows["service-1"]["utilisation"] == 0.2


# grade(), with a fake environment ------------------------------------------------------------


def samples_csv(samples: Sequence[Sample]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["start", "response_ms", "error"])
    writer.writerows((s.start, s.response_ms, s.error) for s in samples)
    return out.getvalue().encode()


def env_for(tmp_path: Path, **changes: Any) -> FakeEnv:
    def locust(files: Mapping[str, bytes], cmd: Sequence[str]) -> dict[str, bytes]:
        meta = json.dumps({"t0": T0}).encode()
        return {"samples.csv": samples_csv(run(lambda n, i: 40.0)), "meta.json": meta}

    hidden = {"p.json": b'[{"instances": [[1, 2]]}]', "launch.json": b'{"peak_rps": 20}'}
    readings = iter(range(1000))
    usage = lambda: [replica("service-1", next(readings) * 0.1)]  # noqa: E731
    return FakeEnv(tmp_path, hidden=hidden, probe=locust, usage=usage, **changes)


def test_grading_runs_the_launch_probe_with_the_schedule_and_samples_usage(
    tmp_path: Path,
) -> None:
    env = env_for(tmp_path)
    result = CapacityGrader().grade(env, params())  # type: ignore[arg-type]
    assert result.passed and result.score == 1.0
    files, cmd = env.probes[0]
    assert json.loads(files["in/schedule.json"]) == schedule(placed())
    assert {"locustfile.py", "launch_locustfile.py"} <= set(files)
    assert cmd[:3] == ["locust", "-f", "/grading/launch_locustfile.py"]
    assert "http://127.0.0.1:8000" in cmd
    assert [r["name"] for r in result.evidence["replicas"]] == ["service-1"]
    assert "samples.csv" in env.artifacts


def test_an_invalid_deployment_fails_the_grader_with_its_message(tmp_path: Path) -> None:
    problem = DeploymentInvalid("deploy.yaml: replicas: 6 is above the maximum of 4")
    env = env_for(tmp_path, declared=problem)
    with pytest.raises(DeploymentInvalid, match="replicas: 6 is above the maximum of 4"):
        CapacityGrader().grade(env, params())  # type: ignore[arg-type]
    assert env.probes == []


def test_a_launch_without_a_peak_is_a_grader_error(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    env.hidden["launch.json"] = b'{"peak": 20}'
    with pytest.raises(
        GraderError,
        match='launch.json: not a launch description with "peak_rps": peak_rps: Field required',
    ):
        CapacityGrader().grade(env, params())  # type: ignore[arg-type]
