"""How many runs one machine holds (``benchmarks/run.py --only scale``).

Per built-in challenge: an interactive run started as a candidate's start does it
(``Runner.start``, then the data directory's supervisor asked for it), timed until ready (the
candidate's wait after "Start", the median of ``--starts`` starts after one unmeasured start
that prepares the challenge's material), cold and with a warm pool of 1 (``warm.py``); then,
idle, each container's memory (cgroup usage less inactive file pages, as ``docker stats``
shows it), the supervisor process's proportional set size, the CPU of both over
:data:`IDLE_WINDOW_S`, and how many such runs fit in the engine's memory less a reserve.
``--runs N`` idle deploy-model runs at once: memory per run, and whether each JupyterLab
answers. Graded runs per hour: the references submitted (``prodproven run CH --submission
challenges/CH/solution``) at each ``--concurrency``, with grading seconds per run and its wait
for a timing slot (``PRODPROVEN_TIMED_GRADINGS``, default 1: serialised as in production).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import statistics
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import warm
from prodproven.runner import plugins
from prodproven.runner.config import Settings
from prodproven.runner.grading.slots import SLOT_EVENT
from prodproven.runner.lifecycle import supervisor
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.runs.store import Run
from prodproven.runner.spec.challenge import Challenge, load_challenge

REPO_ROOT = Path(__file__).resolve().parents[1]
MIB = 2**20
GIB = 2**30
IDLE_WINDOW_S = 10.0
SETTLE_S = 5.0
"""How long a run is left alone after it is ready before it is measured."""
CANCEL_REASON = "benchmark done"


# pure figures ---------------------------------------------------------------------------------
def container_memory(stats: dict[str, Any]) -> int:
    """A container's memory in bytes from the engine's stats: the cgroup's usage less its
    inactive file pages (cgroup v2 ``inactive_file``, v1 ``total_inactive_file``)."""
    memory = stats.get("memory_stats") or {}
    detail = memory.get("stats") or {}
    inactive = detail.get("inactive_file", detail.get("total_inactive_file", 0))
    return max(0, int(memory.get("usage", 0)) - int(inactive))


def container_cpu_seconds(stats: dict[str, Any]) -> float:
    return int(((stats.get("cpu_stats") or {}).get("cpu_usage") or {}).get("total_usage", 0)) / 1e9


def fits(per_run_bytes: float, total_bytes: int, reserve_bytes: int) -> int:
    """How many runs of ``per_run_bytes`` fit in ``total_bytes`` less ``reserve_bytes``."""
    if per_run_bytes <= 0:
        raise ValueError("a run uses some memory")
    return max(0, math.floor((total_bytes - reserve_bytes) / per_run_bytes))


def slot_wait_s(events: Iterable[Any]) -> float:
    """Seconds a grading waited for a timing slot, from a run's events (0: it took none)."""
    return sum(float(e.data.get("waited_s", 0.0)) for e in events if e.kind == SLOT_EVENT)


def runs_per_hour(runs: int, wall_s: float) -> float:
    """Throughput of ``runs`` graded runs done in ``wall_s`` seconds of wall time."""
    return 3600.0 * runs / wall_s


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Rows under headers, columns as wide as their widest cell, numbers right-aligned."""
    cells = [[str(h) for h in headers]] + [[_cell(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(_is_number(row[i]) for row in cells[1:]) for i in range(len(headers))]
    lines = []
    for row in cells:
        padded = [
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(row, widths, numeric, strict=True)
        ]
        lines.append("  ".join(padded).rstrip())
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def _cell(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# measuring ------------------------------------------------------------------------------------
@dataclass
class Usage:
    """What some idle runs use: their containers' memory by role (bytes) and CPU (% of one
    core), and the supervisor process's, whole (it supervises every run open)."""

    memory: dict[str, float]
    cpu_percent: float
    supervisor_bytes: float
    supervisor_cpu_percent: float

    @property
    def containers_bytes(self) -> float:
        return sum(self.memory.values())


@dataclass
class Idle:
    """One challenge's interactive run, idle (alone with the supervisor)."""

    challenge: str
    start_s: list[float]
    pooled_s: list[float]
    """Starts that took a warm pod (a pool of 1); empty when not measured."""
    memory_mib: dict[str, float]
    """Its containers' memory by role."""
    cpu_percent: float
    """Its containers' CPU, of one core."""
    supervisor_mib: float
    """The supervisor process: counted once, however many runs it supervises."""
    supervisor_cpu_percent: float
    fits: int
    """Runs that fit: the engine's memory less the reserve and the supervisor, over the
    containers' memory per run."""

    @property
    def total_mib(self) -> float:
        """Per run when ``fits`` runs are open: containers and a share of the supervisor."""
        return sum(self.memory_mib.values()) + self.supervisor_mib / max(1, self.fits)


@dataclass
class Many:
    """``runs`` deploy-model runs open at once."""

    runs: int
    containers_mib: float
    """Per run."""
    supervisor_mib: float
    """The whole process, supervising these runs and one more opened first."""
    per_run_mib: float
    """Containers and a share of the supervisor."""
    cpu_percent: float
    """Per run, of one core, with a share of the supervisor."""
    host_per_run_mib: float
    """MemAvailable's drop per run (counts the engine's shims too; noisy on a busy machine)."""
    answered: int
    """Runs whose JupyterLab answered."""
    fits: int


@dataclass
class Graded:
    """The reference of ``challenge`` submitted ``concurrency`` at a time."""

    challenge: str
    concurrency: int
    grading_s: list[float]
    """Per run, submitted to graded, the wait for a timing slot included."""
    wait_s: list[float]
    """Per run, the wait for a timing slot."""
    wall_s: float
    scores: list[float | None] = field(default_factory=list)

    @property
    def per_hour(self) -> float:
        return runs_per_hour(self.concurrency, self.wall_s)


class Bench:
    """Starts, measures and removes the benchmark's runs on ``runner``'s data directory."""

    def __init__(self, runner: Runner, client: Any, settings: Settings) -> None:
        self.runner = runner
        self.client = client
        self.settings = settings
        self.opened: list[str] = []

    def challenge(self, name: str) -> Challenge:
        return load_challenge(REPO_ROOT / "challenges" / name, plugins.catalog())

    def open(self, challenge: Challenge) -> tuple[Run, float]:
        """An interactive run, as a candidate's start makes it; and how long that took."""
        started = time.perf_counter()
        run = self.runner.start(challenge, "bench", on_created=lambda r: self.opened.append(r.id))
        pid = supervisor.spawn(self.settings)
        self.runner.event(run.id, supervisor.WANTED, {"pid": pid, "by": "benchmark"})
        return run, time.perf_counter() - started

    def timed_start(self, challenge: Challenge) -> tuple[str, float]:
        """A start timed as :meth:`open`, its run then cancelled: its id and the wait."""
        run, wait = self.open(challenge)
        self.runner.cancel(run.id, CANCEL_REASON)
        self.opened.remove(run.id)
        return run.id, wait

    def close(self) -> None:
        """Cancel every run opened, then stop the supervisor the benchmark started."""
        for run_id in self.opened:
            self.runner.cancel(run_id, CANCEL_REASON)
        self.opened.clear()
        pid = supervisor.holder(supervisor.lock_path(self.settings))
        if pid is not None:
            os.kill(pid, signal.SIGTERM)

    def usage(self, run_ids: Sequence[str]) -> Usage:
        """What ``run_ids`` use, their CPU over IDLE_WINDOW_S."""
        boxes = [
            (c.labels.get("prodproven.role", "?"), c.id)
            for run_id in run_ids
            for c in self.client.containers.list(filters={"label": f"prodproven.run={run_id}"})
        ]
        pid = supervisor.holder(supervisor.lock_path(self.settings))
        before = [container_cpu_seconds(self._stats(cid)) for _, cid in boxes]
        cpu_before = _process_cpu_seconds(pid) if pid else 0.0
        time.sleep(IDLE_WINDOW_S)
        after = [self._stats(cid) for _, cid in boxes]
        cpu = sum(container_cpu_seconds(s) for s in after) - sum(before)
        by_role: dict[str, float] = {}
        for (role, _), stats in zip(boxes, after, strict=True):
            by_role[role] = by_role.get(role, 0.0) + container_memory(stats)
        own = (_process_cpu_seconds(pid) - cpu_before) if pid else 0.0
        return Usage(
            by_role,
            100.0 * cpu / IDLE_WINDOW_S,
            _process_pss(pid) if pid else 0.0,
            100.0 * own / IDLE_WINDOW_S,
        )

    def lab_answers(self, run_id: str) -> bool:
        try:
            with urllib.request.urlopen(self.runner.lab(run_id).url, timeout=30) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def _stats(self, container_id: str) -> dict[str, Any]:
        stats: dict[str, Any] = self.client.api.stats(container_id, stream=False, one_shot=True)
        return stats


def _process_pss(pid: int) -> float:
    """A process's proportional set size in bytes (its share of pages it shares)."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024.0
    raise ValueError(f"no Pss in /proc/{pid}/smaps_rollup")


def _process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def available_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    raise ValueError("no MemAvailable in /proc/meminfo")


# the three measurements -----------------------------------------------------------------------
def idle(bench: Bench, name: str, starts: int, total: int, reserve: int, pooled: bool) -> Idle:
    challenge = bench.challenge(name)
    first, _ = bench.open(challenge)  # prepares the material: not a candidate's wait
    waits = [bench.timed_start(challenge)[1] for _ in range(starts)]
    warm_waits = warm.pooled_starts(bench, challenge, starts) if pooled else []
    time.sleep(SETTLE_S)
    used = bench.usage([first.id])
    bench.close()
    return Idle(
        name,
        waits,
        warm_waits,
        {role: value / MIB for role, value in sorted(used.memory.items())},
        used.cpu_percent,
        used.supervisor_bytes / MIB,
        used.supervisor_cpu_percent,
        fits(used.containers_bytes, total, reserve + int(used.supervisor_bytes)),
    )


def many(bench: Bench, runs: int, total: int, reserve: int) -> Many:
    challenge = bench.challenge("deploy-model")
    bench.open(challenge)  # material prepared, supervisor up: not counted
    time.sleep(SETTLE_S)
    warm = list(bench.opened)
    available = available_bytes()
    for _ in range(runs):
        bench.open(challenge)
    counted = [run_id for run_id in bench.opened if run_id not in warm]
    time.sleep(SETTLE_S)
    host = (available - available_bytes()) / runs
    used = bench.usage(counted)
    answered = sum(bench.lab_answers(run_id) for run_id in counted)
    share = 1 / len(bench.opened)  # of the supervisor, which supervises every run open
    bench.close()
    containers = used.containers_bytes / runs
    return Many(
        runs,
        containers / MIB,
        used.supervisor_bytes / MIB,
        (containers + used.supervisor_bytes * share) / MIB,
        used.cpu_percent / runs + used.supervisor_cpu_percent * share,
        host / MIB,
        answered,
        fits(containers, total, reserve + int(used.supervisor_bytes)),
    )


def graded(bench: Bench, name: str, concurrency: int) -> Graded:
    challenge = bench.challenge(name)
    done: list[Run] = []
    failures: list[BaseException] = []

    def one() -> None:
        try:
            done.append(bench.runner.run_scripted(challenge, challenge.path("solution"), "bench"))
        except BaseException as exc:  # handed to the benchmark's thread below
            failures.append(exc)

    started = time.perf_counter()
    threads = [threading.Thread(target=one) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if failures:
        raise failures[0]
    grading = [
        (run.graded_at - run.submitted_at).total_seconds()
        for run in done
        if run.graded_at is not None and run.submitted_at is not None
    ]
    waits = [slot_wait_s(bench.runner.store.events(run.id)) for run in done]
    return Graded(name, concurrency, grading, waits, wall, [run.score for run in done])


# options and output ---------------------------------------------------------------------------
def add_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("scale (--only scale)")
    group.add_argument(
        "--runs", type=int, default=5, help="deploy-model idle runs at once (default 5; 0: none)"
    )
    group.add_argument(
        "--starts", type=int, default=3, help="timed starts per challenge (default 3)"
    )
    warm.add_options(group)
    group.add_argument(
        "--challenges",
        default="deploy-model",
        help="challenges whose reference is graded, comma-separated (default deploy-model)",
    )
    group.add_argument(
        "--idle-challenges",
        help="challenges measured idle, comma-separated (default every built-in challenge)",
    )
    group.add_argument(
        "--concurrency",
        default="1,2",
        help="gradings at once, comma-separated levels (default 1,2; 0: no grading)",
    )
    group.add_argument(
        "--reserve-gib",
        type=float,
        default=4.0,
        help="engine memory kept out of the fit count for the system, the engine, the web "
        "app and gradings (default 4)",
    )
    group.add_argument("--json", action="store_true", help="print the figures as one JSON object")


def builtin_challenges() -> list[str]:
    return sorted(p.parent.name for p in (REPO_ROOT / "challenges").glob("*/challenge.yaml"))


def run(runner: Runner, client: Any, settings: Settings, args: argparse.Namespace) -> None:
    """The scale benchmark with ``args`` (see :func:`add_options`); prints its figures."""
    bench = Bench(runner, client, settings)
    total = int(client.info()["MemTotal"])
    reserve = int(args.reserve_gib * GIB)
    names = _names(args.idle_challenges) if args.idle_challenges else builtin_challenges()
    say: Callable[[str], None] = (lambda _: None) if args.json else print
    try:
        idles = [idle(bench, name, args.starts, total, reserve, args.pooled) for name in names]
        say(idle_table(idles, total, reserve))
        crowd = many(bench, args.runs, total, reserve) if args.runs > 0 else None
        say(many_line(crowd) if crowd else "")
        levels = [int(level) for level in _names(args.concurrency) if int(level) > 0]
        grades = [graded(bench, n, c) for n in _names(args.challenges) for c in levels]
        say(graded_table(grades, settings.timed_gradings) if grades else "")
    finally:
        bench.close()
    if args.json:
        document = {
            "engine_memory_gib": total / GIB,
            "reserve_gib": args.reserve_gib,
            "timed_gradings": settings.timed_gradings,
            "idle": [{**asdict(i), "total_mib": i.total_mib, **warm.figures(i)} for i in idles],
            "many": asdict(crowd) if crowd else None,
            "graded": [{**asdict(g), "per_hour": g.per_hour} for g in grades],
        }
        print(json.dumps(document, indent=2))


def idle_table(idles: Sequence[Idle], total: int, reserve: int) -> str:
    rows = [
        (
            i.challenge,
            statistics.median(i.start_s),
            *warm.cells(i.pooled_s),
            ", ".join(f"{role} {mib:.0f}" for role, mib in i.memory_mib.items()),
            i.supervisor_mib,
            i.total_mib,
            i.cpu_percent,
            i.supervisor_cpu_percent,
            i.fits,
        )
        for i in idles
    ]
    head = (
        f"idle interactive runs (engine memory {total / GIB:.1f} GiB, "
        f"reserve {reserve / GIB:.1f} GiB)"
    )
    columns = (
        "challenge",
        "start s",
        *warm.HEADERS,
        "containers MiB",
        "supervisor MiB",
        "MiB/run at fit",
        "CPU %/run",
        "supervisor CPU %",
        "fit",
    )
    note = f"(start s: cold; {warm.NOTE}; the supervisor is one process: counted once in the fit)"
    return f"{head}\n{table(columns, rows)}\n{note}"


def many_line(crowd: Many) -> str:
    return (
        f"\n{crowd.runs} idle deploy-model runs open: {crowd.per_run_mib:.1f} MiB per run "
        f"(containers {crowd.containers_mib:.1f}; supervisor {crowd.supervisor_mib:.1f} for "
        f"all; host MemAvailable drop per run {crowd.host_per_run_mib:.1f}), "
        f"CPU {crowd.cpu_percent:.2f} % per run; {crowd.answered}/{crowd.runs} JupyterLabs "
        f"answered; fit {crowd.fits}\n"
    )


def graded_table(grades: Sequence[Graded], timed_gradings: int) -> str:
    rows = [
        (
            g.challenge,
            g.concurrency,
            statistics.median(g.grading_s) if g.grading_s else float("nan"),
            statistics.median(g.wait_s) if g.wait_s else float("nan"),
            g.wall_s,
            g.per_hour,
            " ".join(str(s) for s in g.scores),
        )
        for g in grades
    ]
    columns = (
        "challenge",
        "at once",
        "grading s/run",
        "slot wait s/run",
        "wall s",
        "runs/hour",
        "scores",
    )
    head = (
        f"graded runs (reference submissions; {timed_gradings} timing slot"
        f"{'s' if timed_gradings > 1 else ''}, PRODPROVEN_TIMED_GRADINGS; grading s includes "
        "the slot wait)"
    )
    return f"{head}\n{table(columns, rows)}"


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]
