"""Replica usage while load runs: a thread samples ``env.service_usage()`` every few seconds,
and :class:`UsageTrack` turns the samples into per-phase figures (CPU seconds against what was
reserved, memory peak, OOM kills, restarts) and series for plots.

Cgroup counters are cumulative since a container was created; a restarted replica may start
counting again from 0, so each counter is made monotone (a drop adds the new value) before
differences are taken.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from prodproven.graders.deployment import ReplicaUsage
from prodproven.sandbox.errors import ProdprovenError

MIB = 2**20


@dataclass(frozen=True)
class UsageSample:
    t: float
    """Epoch seconds when the sample was read."""
    replicas: tuple[ReplicaUsage, ...]


class UsageSampler:
    """Reads ``read()`` when entered, every ``interval`` seconds in a thread, and when left.
    A read that fails is kept in ``problems`` (the load is graded without that sample)."""

    def __init__(self, read: Callable[[], Sequence[ReplicaUsage]], interval: float) -> None:
        self.read, self.interval = read, interval
        self.samples: list[UsageSample] = []
        self.problems: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="usage-sampler", daemon=True)

    def _take(self) -> None:
        try:
            usage = tuple(self.read())
        except ProdprovenError as exc:
            self.problems.append(str(exc))
            return
        self.samples.append(UsageSample(time.time(), usage))

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._take()

    def __enter__(self) -> UsageSampler:
        self._take()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._take()


def monotone(values: Sequence[float]) -> list[float]:
    """A cumulative counter with its resets undone: a drop counts the new value as growth."""
    out: list[float] = []
    for i, v in enumerate(values):
        if i == 0:
            out.append(0.0)
        else:
            prev = values[i - 1]
            out.append(out[-1] + (v - prev if v >= prev else v))
    return out


def interpolate(ts: Sequence[float], ys: Sequence[float], t: float) -> float:
    """``ys`` at ``t``, linear between samples and flat beyond the first and last."""
    if t <= ts[0]:
        return ys[0]
    if t >= ts[-1]:
        return ys[-1]
    i = next(i for i in range(1, len(ts)) if ts[i] >= t)
    span = ts[i] - ts[i - 1]
    share = (t - ts[i - 1]) / span if span > 0 else 1.0
    return ys[i - 1] + (ys[i] - ys[i - 1]) * share


@dataclass(frozen=True)
class _Replica:
    last: ReplicaUsage
    ts: list[float]
    """Seconds after t0."""
    cpu: list[float]
    oom: list[float]
    restarts: list[float]
    now: list[int]
    peak: list[int]


class UsageTrack:
    """Samples placed on the load's clock (seconds after ``t0``), per replica."""

    def __init__(self, samples: Sequence[UsageSample], t0: float) -> None:
        rows: dict[str, list[tuple[float, ReplicaUsage]]] = {}
        for sample in sorted(samples, key=lambda s: s.t):
            for usage in sample.replicas:
                rows.setdefault(usage.name, []).append((sample.t - t0, usage))
        self.replicas = {
            name: _Replica(
                last=found[-1][1],
                ts=[t for t, _ in found],
                cpu=monotone([u.cpu_seconds for _, u in found]),
                oom=monotone([u.oom_kills for _, u in found]),
                restarts=monotone([u.restarts for _, u in found]),
                now=[u.memory_bytes_now for _, u in found],
                peak=[u.memory_peak_bytes for _, u in found],
            )
            for name, found in sorted(rows.items())
        }

    def _usage(self, r: _Replica, start: float, end: float) -> dict[str, Any]:
        def grew(values: list[float]) -> float:
            return interpolate(r.ts, values, end) - interpolate(r.ts, values, start)

        cpu, reserved = grew(r.cpu), r.last.cpus * (end - start)
        seen = [n for t, n in zip(r.ts, r.now, strict=True) if start <= t <= end]
        after = next((i for i, t in enumerate(r.ts) if t >= end), len(r.ts) - 1)
        before = max((i for i, t in enumerate(r.ts) if t <= start), default=0)
        if r.peak[after] > r.peak[before]:
            seen.append(r.peak[after])  # the cgroup's high-water mark rose during the phase
        return {
            "cpu_seconds": round(cpu, 3),
            "utilisation": round(cpu / reserved, 4) if reserved > 0 else None,
            "memory_peak_mb": round(max(seen) / MIB, 1) if seen else None,
            "oom_kills": round(r.oom[after] - r.oom[before]),
            "restarts": round(r.restarts[after] - r.restarts[before]),
        }

    def phase_usage(self, start: float, end: float) -> dict[str, dict[str, Any]]:
        """Per replica, what it used from ``start`` to ``end`` (seconds after t0)."""
        return {name: self._usage(r, start, end) for name, r in self.replicas.items()}

    def totals(self, start: float, end: float) -> dict[str, Any]:
        """CPU seconds of all replicas against the CPU seconds they reserved."""
        used = sum(interpolate(r.ts, r.cpu, end) - interpolate(r.ts, r.cpu, start)
                   for r in self.replicas.values())  # fmt: skip
        reserved = sum(r.last.cpus for r in self.replicas.values()) * (end - start)
        return {
            "cpu_seconds": round(used, 3),
            "reserved_cpu_seconds": round(reserved, 3),
            "utilisation": round(used / reserved, 4) if reserved > 0 else None,
        }

    def series(self) -> list[dict[str, Any]]:
        """Per sample and replica: CPU cores used since the previous sample, memory now."""
        rows = []
        for name, r in self.replicas.items():
            for i in range(1, len(r.ts)):
                span = r.ts[i] - r.ts[i - 1]
                cores = (r.cpu[i] - r.cpu[i - 1]) / span if span > 0 else None
                rows.append({"t": round(r.ts[i], 2), "replica": name,
                             "cpu_cores": None if cores is None else round(cores, 3),
                             "memory_mb": round(r.now[i] / MIB, 1)})  # fmt: skip
        return sorted(rows, key=lambda row: (row["t"], row["replica"]))

    def summary(self, duration: float) -> list[dict[str, Any]]:
        """Per replica: declared limits and what it used over the first ``duration`` seconds
        (memory peak, OOM kills and restarts: since the replica was created)."""
        rows = []
        for name, r in self.replicas.items():
            used = self._usage(r, 0.0, duration)
            rows.append(
                {
                    "name": name,
                    "cpus": r.last.cpus,
                    "memory_mb": round(r.last.memory_bytes / MIB),
                    "cpu_seconds": used["cpu_seconds"],
                    "utilisation": used["utilisation"],
                    "memory_peak_mb": round(r.last.memory_peak_bytes / MIB, 1),
                    "oom_kills": r.last.oom_kills,
                    "restarts": r.last.restarts,
                    "state": r.last.state,
                }
            )
        return rows
