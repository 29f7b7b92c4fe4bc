"""The recording overhead per hour of work (issue 23): CPU, memory and disk of the terminal and
cell recordings (runner/runs/recording.py) and of the workspace timeline's minute snapshots
(runner/lifecycle/snapshots.py), on this machine.

Recordings: an hour of synthetic lab traffic is replayed, at a compressed clock, through the
code the lab proxy runs: ``lab_observer`` makes the observer of a terminal's or a kernel
channel's WebSocket and each frame goes to its ``frame``, the casts' clock (``Recordings.clock``)
set to the frame's time. Profiles:

- terminal, typical: a command every 10 to 50 s (reading, thinking, the notebook in between),
  typed a keystroke every 0.15 to 0.45 s (0.3 s on average), each echoed; then its output in
  4 KiB chunks as a pty gives them: ``ls -la``, ``pip list``, a pytest run with a failure, a
  log's last 300 lines, a source file, ``git status``, a CSV's head;
- terminal, heavy: a training loop logging a coloured line every 50 ms for the hour;
- cells: a cell executed every 20 to 40 s through the kernel channel's binary protocol
  (``v1.kernel.websocket.jupyter.org``): the request, busy, the input, its stdout, a plot (a
  50 KiB PNG) one time in four, an error one time in ten, idle, the reply.

For each: frames and recorded lines per hour, the CPU time of the observer's calls alone
(``time.process_time``, median of ``--repeat`` replays), the Python heap's peak while
recording (``tracemalloc``, a separate replay) and the resident set's growth, the bytes
written; then the same traffic replayed with the default cap until the cap stops it (up to
:data:`CAP_HOURS` hours): the minute it would be reached.

Timeline (needs Docker, about a minute: a scripted fix-drift run is started): the snapshots
of ``benchmarks/timeline.py`` (``timed``), 60 of the unchanged workspace, then 60 with the
candidate's notebook edited (a line added to a code cell) before each: the runner's CPU and
the wall time per hour (60 times the median snapshot), and the bytes added.

Usage: .venv/bin/python benchmarks/recording.py [--repeat N] [--no-timeline] [--data-dir DIR]
[--json]
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from prodproven.runner.config import Settings
from prodproven.runner.runs.archives import MIB
from prodproven.runner.runs.recording import Recordings, lab_observer

REPO_ROOT = Path(__file__).resolve().parents[1]
HOUR_S = 3600.0
CAP_HOURS = 8
"""How long the replay with the default cap goes on before saying the cap was not reached."""
TERMINAL = "terminals/websocket/1"
KERNEL = "api/kernels/5f1c0e7a-0000-4000-8000-000000000001/channels"
"""The lab paths whose observers are measured (as ``runner/web/proxy.py`` passes them)."""
CHUNK = 4096
"""The most a pty hands over at once: longer output arrives as several frames."""
PROMPT = "\x1b[01;32mcandidate@workspace\x1b[00m:\x1b[01;34m/workspace\x1b[00m$ "
UNCAPPED = 1 << 40
NOTEBOOK = "/workspace/drift_analysis.ipynb"
EDIT = (
    "import json, sys; p = sys.argv[1]; nb = json.load(open(p)); "
    "c = [c for c in nb['cells'] if c['cell_type'] == 'code'][-1]; "
    "s = c['source']; s = ''.join(s) if isinstance(s, list) else s; "
    "c['source'] = s + '\\nprint(' + repr(sys.argv[2]) + ')'; json.dump(nb, open(p, 'w'), indent=1)"
)
"""Run in the workspace: the notebook's last code cell gets one more line."""


class Frame(NamedTuple):
    at: float
    """Seconds into the session."""
    from_browser: bool
    data: str | bytes
    """The WebSocket frame as relayed."""


@dataclass
class Clock:
    """The recordings' clock during a replay: the time of the frame being fed."""

    now: float = 0.0

    def __call__(self) -> float:
        return self.now


# terminal traffic ------------------------------------------------------------------------------
def _stdout(text: str) -> str:
    return json.dumps(["stdout", text])


def _ls(rng: random.Random) -> list[str]:
    names = ["README.md", "drift_analysis.ipynb", "serve.py", "train.py", "data", "logs", "tests"]
    return ["total 96"] + [
        f"-rw-r--r-- 1 candidate candidate {rng.randint(200, 90000):6d} Nov 27 10:{m:02d} "
        f"\x1b[01;34m{name}\x1b[0m"
        for m, name in enumerate(names)
    ]


def _pip_list(rng: random.Random) -> list[str]:
    return ["Package                   Version", "------------------------- -----------"] + [
        f"package-{n:<17} {rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}"
        for n in range(150)
    ]


def _pytest(rng: random.Random) -> list[str]:
    head = [
        "\x1b[1m============================= test session starts ==============================",
        "platform linux -- Python 3.11.9, pytest-8.3.3, pluggy-1.5.0",
        "rootdir: /workspace",
        "collected 42 items",
        "",
        "tests/test_drift.py \x1b[32m" + "." * 20 + "\x1b[0m\x1b[31mF\x1b[0m" + " " * 30 + "[ 61%]",
        "tests/test_serve.py \x1b[32m................\x1b[0m                         [100%]",
        "",
        "=================================== FAILURES ===================================",
    ]
    trace = [f'  File "/workspace/drift.py", line {rng.randint(1, 300)}, in psi' for _ in range(20)]
    trace += ["    expected = np.histogram(reference, bins=edges)[0] / len(reference)"] * 20
    tail = ["E       AssertionError: psi 0.31 above 0.2", "\x1b[31m1 failed, 41 passed\x1b[0m"]
    return head + trace + tail


def _log_tail(rng: random.Random) -> list[str]:
    return [
        f"2026-11-27 10:{n // 60 % 60:02d}:{n % 60:02d},{rng.randint(0, 999):03d} INFO "
        f"serving.app request id={uuid.UUID(int=rng.getrandbits(128))} path=/predict "
        f"status=200 latency_ms={rng.uniform(2, 80):.1f}"
        for n in range(300)
    ]


def _source(rng: random.Random) -> list[str]:
    return [
        f"    {'    ' * rng.randint(0, 2)}value_{n} = compute(frame['feature_{n}'], window={n})"
        for n in range(80)
    ]


def _csv(rng: random.Random) -> list[str]:
    return ["ts,feature_a,feature_b,label"] + [
        f"2026-11-0{n + 1},{rng.random():.6f},{rng.random():.6f},{rng.randint(0, 1)}"
        for n in range(4)
    ]


COMMANDS: list[tuple[str, Callable[[random.Random], list[str]], int]] = [
    ("ls -la", _ls, 5),
    ("pip list", _pip_list, 1),
    ("python -m pytest -q tests/", _pytest, 3),
    ("tail -n 300 logs/serving.log", _log_tail, 2),
    ("cat serve.py", _source, 3),
    ("git status", lambda _: ["On branch main", "\t\x1b[31mmodified:   serve.py\x1b[m"], 3),
    ("head -5 data/reference.csv", _csv, 3),
]
"""What the typical candidate runs: the command, its output, how often (relative)."""


def _opened() -> Iterator[Frame]:
    yield Frame(0.05, True, json.dumps(["set_size", 40, 120, 800, 1200]))
    yield Frame(0.1, False, _stdout(PROMPT))


def _typed(rng: random.Random, at: float, command: str) -> Iterator[Frame]:
    """``command`` typed from ``at``, a keystroke every 0.15 to 0.45 s, each echoed, then
    Enter."""
    for key in command + "\r":
        at += rng.uniform(0.15, 0.45)
        yield Frame(at, True, json.dumps(["stdin", key]))
        yield Frame(at + 0.002, False, _stdout("\r\n" if key == "\r" else key))


def typical(rng: random.Random) -> Iterator[Frame]:
    """A candidate's terminal, without end: a command every 10 to 50 s, typed, then its
    output in pty-sized chunks and the prompt."""
    yield from _opened()
    at = 0.1
    commands, outputs, weights = zip(*COMMANDS, strict=True)
    while True:
        at += rng.uniform(10, 50)
        chosen = rng.choices(range(len(commands)), weights)[0]
        for frame in _typed(rng, at, commands[chosen]):
            at = frame.at
            yield frame
        text = "\r\n".join(outputs[chosen](rng)) + "\r\n" + PROMPT
        for n in range(0, len(text), CHUNK):
            at += rng.uniform(0.001, 0.02)
            yield Frame(at, False, _stdout(text[n : n + CHUNK]))


def heavy(rng: random.Random) -> Iterator[Frame]:
    """A training loop, started by hand, logging a coloured line every 50 ms, without end."""
    yield from _opened()
    at = 0.1
    for frame in _typed(rng, 1.0, "python train.py --epochs 50"):
        at = frame.at
        yield frame
    for step in itertools.count():
        at += 0.05
        clock = time.strftime("%H:%M:%S", time.gmtime(36000 + at)) + f",{int(at * 1000) % 1000:03d}"
        line = (
            f"\x1b[2m{clock}\x1b[0m \x1b[32mINFO\x1b[0m train: epoch {step // 5000:>2} step "
            f"{step % 5000:>4}/5000 loss {rng.uniform(0.1, 0.9):.4f} acc {rng.random():.4f} "
            f"lr {1e-3 * 0.999 ** (step // 100):.2e} {rng.uniform(19, 21):.1f} it/s\r\n"
        )
        yield Frame(at, False, _stdout(line))


# cell traffic ----------------------------------------------------------------------------------
def kernel_frame(
    channel: str, header: dict[str, Any], parent: dict[str, Any], content: Any
) -> bytes:
    """A message of the ``v1.kernel.websocket.jupyter.org`` protocol, laid out as
    jupyter_server's ``serialize_msg_to_ws_v1`` lays it: the number of offsets, the offsets,
    then the channel, header, parent header, metadata and content."""
    parts = [channel.encode()] + [json.dumps(p).encode() for p in (header, parent, {}, content)]
    offsets = [8 * (len(parts) + 2)]
    for part in parts:
        offsets.append(offsets[-1] + len(part))
    head = len(offsets).to_bytes(8, "little") + b"".join(o.to_bytes(8, "little") for o in offsets)
    return head + b"".join(parts)


def cells(rng: random.Random) -> Iterator[Frame]:
    """A notebook's kernel channel, without end: a cell executed every 20 to 40 s."""
    session = str(uuid.UUID(int=rng.getrandbits(128)))
    plot = base64.b64encode(rng.randbytes(50 * 1024)).decode()
    at = 0.0

    def header(msg_type: str) -> dict[str, Any]:
        moment = datetime.fromtimestamp(1_790_000_000 + at, UTC).isoformat()
        msg_id = str(uuid.UUID(int=rng.getrandbits(128)))
        return {"msg_id": msg_id, "msg_type": msg_type, "username": "candidate",
                "session": session, "date": moment, "version": "5.3"}  # fmt: skip

    for count in itertools.count(1):
        at += rng.uniform(20, 40)
        code = "\n".join(
            f"frame_{n} = frame.groupby('day')['feature_{n}'].mean()" for n in range(20)
        )
        request = header("execute_request")
        content = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                   "allow_stdin": True, "stop_on_error": True}  # fmt: skip
        yield Frame(at, True, kernel_frame("shell", request, {}, content))
        failed = rng.random() < 0.1
        outputs: list[tuple[str, dict[str, Any]]] = [
            ("status", {"execution_state": "busy"}),
            ("execute_input", {"code": code, "execution_count": count}),
            ("stream", {"name": "stdout", "text": "psi 0.0123\n" * rng.randint(1, 200)}),
        ]
        if rng.random() < 0.25:
            image = {"image/png": plot, "text/plain": "<Figure size 640x480 with 1 Axes>"}
            outputs.append(("display_data", {"data": image, "metadata": {}}))
        if failed:
            trace = ["\x1b[0;31mKeyError\x1b[0m: 'feature_7'"] * 12
            outputs.append(
                ("error", {"ename": "KeyError", "evalue": "'feature_7'", "traceback": trace})
            )
        outputs.append(("status", {"execution_state": "idle"}))
        for msg_type, body in outputs:
            at += rng.uniform(0.005, 0.2)
            yield Frame(at, False, kernel_frame("iopub", header(msg_type), request, body))
        reply: dict[str, Any] = {"status": "error" if failed else "ok", "execution_count": count,
                 "user_expressions": {}, "payload": []}  # fmt: skip
        yield Frame(
            at + 0.001, False, kernel_frame("shell", header("execute_reply"), request, reply)
        )


PROFILES: dict[str, tuple[str, Callable[[random.Random], Iterator[Frame]]]] = {
    "terminal typical": (TERMINAL, typical),
    "terminal heavy": (TERMINAL, heavy),
    "cells": (KERNEL, cells),
}
"""Each profile: the lab path of its WebSocket and its traffic."""


def session(profile: str, seconds: float, seed: int = 23) -> list[Frame]:
    """The first ``seconds`` of ``profile``'s traffic (the same for one seed)."""
    traffic = PROFILES[profile][1](random.Random(seed))
    return list(itertools.takewhile(lambda frame: frame.at < seconds, traffic))


# measuring -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Replayed:
    cpu_s: float
    """The observer's calls alone."""
    frames: int
    """Frames fed (the replay stops at the first frame after the cap was reached)."""
    capped_at_s: float | None
    """The session time at which the cap was reached; None when it was not."""


def replay(frames: Iterable[Frame], lab_path: str, directory: Path, cap_bytes: int) -> Replayed:
    """Feed ``frames`` to the observer the lab proxy makes for ``lab_path``, recording into
    ``directory`` capped at ``cap_bytes``. Raises RuntimeError when no observer is made."""
    clock = Clock()
    capped: list[float] = []
    recordings = Recordings(directory, cap_bytes, lambda: capped.append(clock.now), clock=clock)
    observer = lab_observer(recordings, lab_path)
    if observer is None:
        raise RuntimeError(f"benchmark: no recording observer for the lab path {lab_path}")
    fed = 0
    started = time.process_time()
    for frame in frames:
        if capped:
            break
        clock.now = frame.at
        observer.frame(frame.from_browser, frame.data)
        fed += 1
    observer.close()
    return Replayed(time.process_time() - started, fed, capped[0] if capped else None)


def recorded(directory: Path) -> tuple[int, int]:
    """The lines (cast headers and markers included) and bytes recorded in ``directory``."""
    files = [p for p in directory.iterdir() if p.is_file()]
    lines = 0
    for path in files:
        with path.open("rb") as handle:
            lines += sum(1 for _ in handle)
    return lines, sum(p.stat().st_size for p in files)


def resident_bytes() -> int:
    """This process's resident set now (Linux)."""
    status = Path("/proc/self/status").read_text()
    return next(
        int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:")
    )


@dataclass(frozen=True)
class Overhead:
    """One profile's recording per hour of work."""

    frames: float
    lines: float
    cpu_s: float
    """Median of the replays."""
    cpu_pct: float
    """Of one core."""
    peak_kib: float
    """The Python heap's peak while recording, above what it was before."""
    rss_kib: float
    """The resident set's largest growth over a replay."""
    mib: float
    capped_after_min: float | None
    """When the default cap stops the recording; None: not within :data:`CAP_HOURS` hours."""


def overhead(profile: str, repeat: int, cap_bytes: int, seconds: float = HOUR_S) -> Overhead:
    """``profile``'s overhead over ``seconds`` of traffic, scaled to an hour, from ``repeat``
    replays (and one traced, and one with the cap of ``cap_bytes``). Raises RuntimeError
    when no observer is made."""
    lab_path, traffic = PROFILES[profile]
    frames = session(profile, seconds)
    scale = HOUR_S / seconds
    runs: list[Replayed] = []
    growth: list[int] = []
    with tempfile.TemporaryDirectory() as temporary:
        for n in range(repeat):
            before = resident_bytes()
            runs.append(replay(frames, lab_path, Path(temporary) / f"replay-{n}", UNCAPPED))
            growth.append(resident_bytes() - before)
        tracemalloc.start()
        replay(frames, lab_path, Path(temporary) / "traced", UNCAPPED)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        endless = traffic(random.Random(23))
        until = itertools.takewhile(lambda frame: frame.at < CAP_HOURS * HOUR_S, endless)
        capped = replay(until, lab_path, Path(temporary) / "capped", cap_bytes)
        lines, size = recorded(Path(temporary) / "replay-0")
    cpu = statistics.median(r.cpu_s for r in runs)
    return Overhead(
        frames=runs[0].frames * scale,
        lines=lines * scale,
        cpu_s=cpu * scale,
        cpu_pct=cpu * scale / HOUR_S * 100,
        peak_kib=peak / 1024,
        rss_kib=max(growth) / 1024,
        mib=size * scale / MIB,
        capped_after_min=None if capped.capped_at_s is None else capped.capped_at_s / 60,
    )


def overhead_line(profile: str, found: Overhead, cap_mb: int) -> str:
    reached = (
        f"reaches the {cap_mb} MiB cap after {found.capped_after_min:.0f} min"
        if found.capped_after_min is not None
        else f"does not reach the {cap_mb} MiB cap in {CAP_HOURS} h"
    )
    return (
        f"{profile:<17} {found.frames:9.0f} frames {found.lines:8.0f} lines  "
        f"CPU {found.cpu_s:6.2f} s ({found.cpu_pct:.3f}% of a core)  heap peak "
        f"{found.peak_kib:6.1f} KiB  RSS +{found.rss_kib:.0f} KiB  disk {found.mib:6.2f} MiB; "
        f"{reached}"
    )


# the timeline ----------------------------------------------------------------------------------
def timeline_hour(data_dir: Path | None, say: Callable[[str], None]) -> dict[str, float]:
    """An hour of minute snapshots of fix-drift's workspace through the engine, unchanged and
    with the notebook edited before each, as ``benchmarks/timeline.py`` takes them. Raises
    RuntimeError when a snapshot or an edit fails, docker's errors when the engine does."""
    from benchmarks import timeline
    from prodproven.runner import plugins
    from prodproven.runner.lifecycle.core import Runner
    from prodproven.runner.lifecycle.snapshots import Snapshots
    from prodproven.runner.runs.store import Store
    from prodproven.runner.spec.challenge import load_challenge
    from prodproven.sandbox.docker_backend import DockerBackend, connect
    from prodproven.sandbox.images import ImageBuilder

    began = time.perf_counter()
    client = connect()
    with tempfile.TemporaryDirectory() as temporary:
        settings = Settings.from_env(data_dir=data_dir or Path(temporary), warm_pool="")
        images = ImageBuilder(client, settings.images())
        store = Store(settings.store_url)
        backend = DockerBackend(client, images.runtime())
        runner = Runner(settings, store, backend, images, plugins.catalog(), plugins.graders())
        challenge = load_challenge(REPO_ROOT / "challenges" / timeline.CHALLENGE, plugins.catalog())
        run = runner.start(challenge, "bench", mode="scripted")
        try:
            _, workspace = runner.workspace(run.id)
            snapshots = Snapshots.of(runner.store, run.id, runner.paths(run.id), settings)
            first = timeline.timed(snapshots, workspace)
            same = [timeline.timed(snapshots, workspace) for _ in range(60)]
            edited = []
            for minute in range(60):
                done = workspace.exec(["python3", "-c", EDIT, NOTEBOOK, f"minute {minute}"])
                if done.exit_code != 0:
                    raise RuntimeError(f"benchmark: editing {NOTEBOOK} failed: {done.stderr}")
                edited.append(timeline.timed(snapshots, workspace))
        finally:
            runner.backend.remove_run(run.id)
    figures = {"first_snapshot_kib": first[2].new_bytes / 1024}
    say(f"timeline, fix-drift (60 snapshots; the first {figures['first_snapshot_kib']:.0f} KiB):")
    for case, taken in (("unchanged", same), ("edited", edited)):
        cpu = figures[f"{case}_cpu_s"] = 60 * statistics.median(c for _, c, _ in taken)
        wall = figures[f"{case}_wall_s"] = 60 * statistics.median(w for w, _, _ in taken)
        kib = figures[f"{case}_kib"] = sum(t.new_bytes for _, _, t in taken) / 1024
        say(
            f"  {case:<9} CPU {cpu:5.2f} s ({cpu / HOUR_S * 100:.3f}% of a core)  "
            f"wall {wall:5.2f} s  disk {kib:7.1f} KiB"
        )
    figures["took_s"] = time.perf_counter() - began
    say(f"  (took {figures['took_s']:.0f} s, the start of a fix-drift run included)")
    return figures


def main() -> None:
    sys.path.insert(0, str(REPO_ROOT))  # run as a script: the package `benchmarks` importable
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5, help="replays of each hour (5)")
    parser.add_argument(
        "--timeline",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also an hour of timeline snapshots (needs Docker; default: yes)",
    )
    parser.add_argument("--data-dir", type=Path, help="the timeline's data directory")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()
    say: Callable[[str], None] = (lambda _: None) if args.json else print
    cap_mb = Settings.model_fields["recording_cap_mb"].default
    say(
        f"recording overhead per hour of work, {os.cpu_count()} CPUs, "
        f"{datetime.now(UTC):%Y-%m-%d}; recordings: median of {args.repeat} replays"
    )
    document: dict[str, Any] = {"cpus": os.cpu_count(), "cap_mb": cap_mb, "recordings": {}}
    for profile in PROFILES:
        found = overhead(profile, args.repeat, cap_mb * MIB)
        document["recordings"][profile] = asdict(found)
        say(overhead_line(profile, found, cap_mb))
    if args.timeline:
        document["timeline"] = timeline_hour(args.data_dir, say)
    if args.json:
        print(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
