"""The SLO prober: a trusted container in the run's pod sends one canary request to the live
service every interval, for the whole run, and prints one JSON line per answer. The runner
reads those lines into the store and judges each answer against the canary's expectation on
the host, so expected answers never enter the pod.

The prober keeps sampling while the runner is down (it is a container, not a thread of ours);
each sample's ``seq`` is its send time in milliseconds, so reading the output again after a
restart stores nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodproven.graders.slo import Sample
from prodproven.runner.errors import ProdprovenError
from prodproven.runner.runs.store import ProbeSampleRow, Store
from prodproven.runner.spec.incidents import ProbeSpec
from prodproven.sandbox.environment import NOBODY_USER, ContainerSpec, Limits, Sandbox
from prodproven.sandbox.scripts import script

ROLE = "prober"
LIMITS = Limits(memory_bytes=128 * 2**20, cpus=0.25, pids=32)
RECENT = 300
"""Output lines read on each poll; when they do not reach back to what is stored, all are read."""


class ProbeSetupError(ProdprovenError):
    """The challenge's canary file cannot be used."""


@dataclass(frozen=True)
class Canary:
    """A request body with known answers: ``expect`` must be contained in the response."""

    body: Any
    expect: dict[str, Any]


def load_canaries(path: Path) -> list[Canary]:
    """Read a JSON-lines canary file. Raises ProbeSetupError naming the line that is wrong."""
    canaries: list[Canary] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise ProbeSetupError(f"{path}:{number}: not JSON ({exc})") from None
        if not isinstance(item, dict) or not isinstance(item.get("expect"), dict):
            raise ProbeSetupError(f'{path}:{number}: expected {{"body": ..., "expect": {{...}}}}')
        canaries.append(Canary(body=item.get("body"), expect=item["expect"]))
    if not canaries:
        raise ProbeSetupError(f"{path} has no canaries")
    return canaries


def contains(answer: Any, expect: Any) -> bool:
    """Whether ``answer`` holds everything in ``expect``: objects by key (extra keys allowed),
    lists element by element, numbers by value (1 == 1.0, but not True)."""
    if isinstance(expect, dict):
        return isinstance(answer, dict) and all(
            key in answer and contains(answer[key], value) for key, value in expect.items()
        )
    if isinstance(expect, list):
        return (
            isinstance(answer, list)
            and len(answer) == len(expect)
            and all(contains(a, e) for a, e in zip(answer, expect, strict=True))
        )
    if isinstance(expect, bool) or isinstance(answer, bool):
        return answer is expect
    if isinstance(expect, (int, float)) and isinstance(answer, (int, float)):
        return float(answer) == float(expect)
    return bool(answer == expect)


def container_spec(
    image: str, probe: ProbeSpec, port: int, canaries: Sequence[Canary]
) -> ContainerSpec:
    """The prober's container: the trusted image, as nobody, with only the request bodies."""
    config = {
        "port": port,
        "path": probe.path,
        "method": probe.method,
        "interval": probe.interval_s,
        "timeout": probe.timeout_s,
        "bodies": [c.body for c in canaries],
        "keys": sorted({key for c in canaries for key in c.expect}),
    }
    return ContainerSpec(
        role=ROLE,
        image=image,
        limits=LIMITS,
        command=["python3", "-c", script("prober.py"), json.dumps(config)],
        user=NOBODY_USER,
        workdir="/tmp",
        tmpfs={"/tmp": "rw,size=16m,mode=1777"},
    )


class ProbeFeed:
    """Moves a prober's output into the store, judging each answer against its canary."""

    def __init__(self, store: Store, run_id: str, canaries: Sequence[Canary]) -> None:
        self._store = store
        self._run_id = run_id
        self._canaries = list(canaries)
        self._seen: set[int] | None = None

    def poll(self, prober: Sandbox, *, everything: bool = False) -> int:
        """Store the samples printed since the last poll; returns how many were new."""
        if self._seen is None:
            self._seen = {row.seq for row in self._store.samples(self._run_id)}
            everything = True
        rows = self._parse(prober.logs(tail=10**7 if everything else RECENT))
        behind = rows and (not self._seen or min(r["seq"] for r in rows) > max(self._seen))
        if not everything and behind:
            rows = self._parse(prober.logs(tail=10**7))  # fell behind: read it all
        fresh = [r for r in rows if r["seq"] not in self._seen]
        added = self._store.add_samples(self._run_id, fresh)
        self._seen.update(r["seq"] for r in fresh)
        return added

    def _parse(self, output: str) -> list[dict[str, Any]]:
        rows = []
        for line in output.splitlines():
            try:
                item = json.loads(line)
                canary = self._canaries[int(item["canary"])]
                status = item["status"]
                ok = isinstance(status, int) and 200 <= status < 300
                rows.append(
                    {
                        "seq": int(item["seq"]),
                        "t": float(item["t"]),
                        "status": status,
                        "latency_ms": item["latency_ms"],
                        "correct": contains(item["answer"], canary.expect) if ok else None,
                        "error": item["error"] or (None if ok else item.get("text")),
                    }
                )
            except (ValueError, KeyError, IndexError, TypeError):
                continue  # not a sample line (e.g. a Python warning on stderr)
        return rows


def to_sample(row: ProbeSampleRow) -> Sample:
    return Sample(
        t=row.t, status=row.status, latency_ms=row.latency_ms, correct=row.correct, error=row.error
    )
