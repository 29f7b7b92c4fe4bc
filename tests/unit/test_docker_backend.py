"""Removing a run's volumes through the engine: a volume slow to delete (many files on a slow
disk) does not hold the submit or the grading up, a refusal is an error naming it. A
container's usage as the engine reports it, cumulative over restarts."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import cast

import pytest
from docker.models.containers import Container

from prodproven.sandbox import docker_backend
from prodproven.sandbox.docker_backend import DockerSandbox, remove_volumes
from prodproven.sandbox.environment import Usage
from prodproven.sandbox.errors import ContainerError


class Volume:
    def __init__(self, seconds: float = 0.0, refusal: Exception | None = None) -> None:
        self.seconds, self.refusal, self.removed = seconds, refusal, False

    def remove(self, force: bool) -> None:
        time.sleep(self.seconds)
        if self.refusal is not None:
            raise self.refusal
        self.removed = True


def test_a_volume_slow_to_delete_does_not_hold_up_removing_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(docker_backend, "VOLUME_REMOVAL_WAIT_S", 0.2)
    slow = Volume(seconds=2.0)
    began = time.monotonic()
    assert remove_volumes([slow]) == 1
    assert time.monotonic() - began < 1.5 and not slow.removed


def test_volumes_quick_to_delete_are_gone_when_removing_returns() -> None:
    volumes = [Volume(), Volume()]
    assert remove_volumes(list(volumes)) == 2
    assert all(v.removed for v in volumes)


def test_a_volume_the_engine_refuses_to_remove_is_an_error_naming_the_refusal() -> None:
    with pytest.raises(ContainerError, match="cannot remove a volume: volume is in use"):
        remove_volumes([Volume(refusal=RuntimeError("volume is in use"))])


class UsageApi:
    """The engine calls DockerSandbox.usage makes, answering with set figures."""

    def __init__(self) -> None:
        self.cpu_ns, self.usage, self.max_usage, self.restarts, self.ooms = 0, 0, 0, 0, 0

    def stats(self, container: str, stream: bool, one_shot: bool) -> dict[str, object]:
        memory = {"usage": self.usage, **({"max_usage": self.max_usage} if self.max_usage else {})}
        return {"cpu_stats": {"cpu_usage": {"total_usage": self.cpu_ns}}, "memory_stats": memory}

    def inspect_container(self, container: str) -> dict[str, object]:
        return {"Created": "2026-11-26T07:00:00.123456789Z", "RestartCount": self.restarts}

    def events(self, **query: object) -> list[dict[str, str]]:
        assert query["filters"] == {"container": "c1", "event": "oom"}
        return [{"status": "oom"}] * self.ooms


def usage_box(api: UsageApi) -> DockerSandbox:
    container = SimpleNamespace(name="pp-r-evaluation-service-1", id="c1")
    container.client = SimpleNamespace(api=api)
    return DockerSandbox(cast(Container, container), "service-1")


def test_usage_reads_cpu_memory_oom_kills_and_restarts_from_the_engine() -> None:
    api = UsageApi()
    api.cpu_ns, api.usage, api.max_usage, api.ooms = 1_500_000_000, 40 * 2**20, 90 * 2**20, 2
    figures = usage_box(api).usage()
    assert figures == Usage(
        cpu_seconds=1.5,
        memory_bytes_now=40 * 2**20,
        memory_peak_bytes=90 * 2**20,
        oom_kills=2,
        restarts=0,
    )


def test_without_a_recorded_peak_the_current_memory_stands_in_for_it() -> None:
    api = UsageApi()
    api.usage = 30 * 2**20  # cgroup v2: no max_usage in the stats
    assert usage_box(api).usage().memory_peak_bytes == 30 * 2**20


def test_cpu_seconds_and_peak_carry_over_a_restart_fresh_cgroup() -> None:
    api = UsageApi()
    box = usage_box(api)
    api.cpu_ns, api.usage, api.max_usage = 4_000_000_000, 100 * 2**20, 120 * 2**20
    box.usage()
    api.cpu_ns, api.usage, api.max_usage, api.restarts = 500_000_000, 10 * 2**20, 20 * 2**20, 1
    after = box.usage()
    assert (after.cpu_seconds, after.memory_peak_bytes, after.restarts) == (4.5, 120 * 2**20, 1)
    api.cpu_ns = 1_000_000_000
    assert box.usage().cpu_seconds == 5.0
