"""A container's resource use as the Docker engine reports it (``Sandbox.usage`` of the Docker
backend): the cgroup's CPU and memory figures, the engine's OOM events and its restart count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import docker.errors

from prodproven.sandbox.environment import Usage
from prodproven.sandbox.errors import ContainerError


@dataclass
class Totals:
    """What a container's earlier starts used, as last read: the engine gives each restart a
    fresh cgroup, so :func:`read` carries these over to stay cumulative."""

    restarts: int = 0
    cpu_seconds: float = 0.0
    peak_bytes: int = 0
    last_cpu_seconds: float = 0.0
    last_peak_bytes: int = 0

    def add(self, restarts: int, cpu_seconds: float, peak_bytes: int) -> tuple[float, int]:
        """Cumulative CPU seconds and the highest peak, given this start's figures."""
        if restarts > self.restarts:
            self.restarts = restarts
            self.cpu_seconds += self.last_cpu_seconds
            self.peak_bytes = max(self.peak_bytes, self.last_peak_bytes)
        self.last_cpu_seconds, self.last_peak_bytes = cpu_seconds, peak_bytes
        return self.cpu_seconds + cpu_seconds, max(self.peak_bytes, peak_bytes)


def read(api: Any, container_id: str, name: str, totals: Totals) -> Usage:
    """The usage of container ``container_id`` through the engine's low-level ``api``,
    cumulative over restarts through ``totals`` (callers serialise calls per container).
    Raises ContainerError when the engine cannot say."""
    try:
        stats = api.stats(container_id, stream=False, one_shot=True)
        attrs = api.inspect_container(container_id)
        ooms = api.events(
            since=_engine_time(attrs["Created"]),
            until=f"{time.time():.3f}",  # a later time would make the engine wait for it
            filters={"container": container_id, "event": "oom"},
            decode=True,
        )
        oom_kills = sum(1 for _ in ooms)
    except (docker.errors.APIError, KeyError, ValueError) as exc:
        raise ContainerError(f"usage of container {name}: {exc}") from exc
    memory = stats.get("memory_stats") or {}
    cpu = (stats.get("cpu_stats") or {}).get("cpu_usage") or {}
    now = int(memory.get("usage", 0))
    restarts = int(attrs.get("RestartCount", 0))
    # cgroup v1 keeps the peak; v2's stats have none, so the current figure stands in.
    peak = max(now, int(memory.get("max_usage", 0)))
    cpu_seconds, peak = totals.add(restarts, int(cpu.get("total_usage", 0)) / 1e9, peak)
    return Usage(
        cpu_seconds=cpu_seconds,
        memory_bytes_now=now,
        memory_peak_bytes=peak,
        oom_kills=oom_kills,
        restarts=restarts,
    )


def _engine_time(stamp: str) -> int:
    """Whole seconds since the epoch of a UTC time the engine prints (RFC 3339 with
    nanoseconds, which ``fromisoformat`` does not read: the fraction is dropped)."""
    whole = stamp.rstrip("Z").partition(".")[0]
    return int(datetime.fromisoformat(whole).replace(tzinfo=UTC).timestamp())
