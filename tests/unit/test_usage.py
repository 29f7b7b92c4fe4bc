"""Replica usage while load runs: the sampler thread, counters a restart resets, values between
samples, and the per-sample series for plots."""

from __future__ import annotations

import time

import pytest

from prodproven.graders.deployment import ReplicaUsage
from prodproven.graders.usage import UsageSampler, interpolate, monotone
from prodproven.sandbox.errors import ProdprovenError
from tests.unit.evaluationsupport import replica
from tests.unit.test_capacity import track


def test_a_counter_reset_by_a_restart_keeps_counting_up() -> None:
    assert monotone([5.0, 10.0, 2.0, 3.0]) == [0.0, 5.0, 7.0, 8.0]


def test_values_between_samples_are_linear_and_flat_beyond_them() -> None:
    ts, ys = [10.0, 20.0], [0.0, 5.0]
    assert [interpolate(ts, ys, t) for t in (0, 10, 14, 20, 99)] == [0.0, 0.0, 2.0, 5.0, 5.0]


def test_a_restart_that_resets_the_counters_is_counted_once() -> None:
    usage = track(
        (10, [replica("service-1", 5.0)]),
        (20, [replica("service-1", 10.0, oom_kills=1, peak_mb=511)]),
        (30, [replica("service-1", 2.0, restarts=1, peak_mb=100)]),  # a fresh cgroup
    )
    phase = usage.phase_usage(14, 34)["service-1"]
    assert phase["cpu_seconds"] == pytest.approx(10.0 + 2.0 - 7.0)  # 7 at 14 s, 12 at 30 s
    assert (phase["oom_kills"], phase["restarts"]) == (1, 1)
    assert phase["memory_peak_mb"] == 200.0


def test_the_series_gives_cores_used_between_samples_and_memory_now() -> None:
    usage = track(
        (0, [replica("service-1", 0.0, memory_mb=100)]),
        (2, [replica("service-1", 1.0, memory_mb=300)]),
    )
    assert usage.series() == [
        {"t": 2.0, "replica": "service-1", "cpu_cores": 0.5, "memory_mb": 300.0}
    ]


def test_the_sampler_reads_on_entry_while_running_and_on_exit() -> None:
    calls: list[float] = []

    def read() -> list[ReplicaUsage]:
        calls.append(time.time())
        return [replica("service-1", float(len(calls)))]

    with UsageSampler(read, 0.01) as sampler:
        time.sleep(0.1)
    assert len(sampler.samples) == len(calls) >= 4
    assert sampler.samples[-1].replicas[0].cpu_seconds == float(len(calls))


def test_a_failed_read_is_kept_as_a_problem_and_sampling_goes_on() -> None:
    def read() -> list[ReplicaUsage]:
        raise ProdprovenError("the cgroup of service-2 is gone")

    with UsageSampler(read, 10.0) as sampler:
        pass
    assert sampler.samples == []
    assert sampler.problems == ["the cgroup of service-2 is gone"] * 2


def test_a_replica_without_a_cpu_limit_has_no_utilisation() -> None:
    unlimited = [replica("service", 0.0, cpus=0.0)], [replica("service", 1.0, cpus=0.0)]
    usage = track((0, unlimited[0]), (10, unlimited[1]))
    assert usage.phase_usage(0, 10)["service"]["utilisation"] is None
    assert usage.totals(0, 10) == {
        "cpu_seconds": 1.0, "reserved_cpu_seconds": 0.0, "utilisation": None
    }  # fmt: skip
