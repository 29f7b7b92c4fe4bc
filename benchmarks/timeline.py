"""The workspace timeline's overhead (issue 23): time and bytes per snapshot of fix-drift's
workspace (runner/runs/timeline.py, lifecycle/snapshots.py), on this machine.

Starts a scripted fix-drift run and snapshots its workspace as the supervisor does
(``Snapshots.take``, through the engine): the first snapshot (the starter workspace and its
generated data), REPEAT snapshots of the unchanged workspace, one after the reference solution
is copied in (an edited notebook), and one after the solution's notebook is executed (its
outputs written). Prints for each the wall time (the engine's tar stream included), this
process's CPU time and the bytes added to the timeline, then the projected cost per hour of
work at one snapshot a minute: the share of the time spent snapshotting and the runner's CPU
share of a core (unchanged snapshots), and disk (the first snapshot plus, as the worst case, a
changed notebook every minute).

Usage: .venv/bin/python benchmarks/timeline.py [--repeat N] [--data-dir DIR]
(DIR keeps the generated material between invocations; default: a temporary folder)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from prodproven.runner import plugins
from prodproven.runner.config import Settings
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.lifecycle.snapshots import Snapshots
from prodproven.runner.runs.archives import MIB
from prodproven.runner.runs.store import Store
from prodproven.runner.runs.timeline import Taken
from prodproven.runner.spec.challenge import load_challenge
from prodproven.sandbox.docker_backend import DockerBackend, connect
from prodproven.sandbox.environment import Sandbox
from prodproven.sandbox.images import ImageBuilder

REPO_ROOT = Path(__file__).resolve().parents[1]
CHALLENGE = "fix-drift"


def timed(snapshots: Snapshots, workspace: Sandbox) -> tuple[float, float, Taken]:
    """One snapshot: its wall time and this process's CPU time in seconds, and what it did.
    Raises RuntimeError when it failed (the event log has why)."""
    wall, cpu = time.perf_counter(), time.process_time()
    taken = snapshots.take(workspace)
    if taken is None:
        raise RuntimeError(f"a snapshot of run {snapshots.run_id} failed: see its events")
    return time.perf_counter() - wall, time.process_time() - cpu, taken


def line(label: str, wall: float, cpu: float, taken: Taken) -> str:
    return (
        f"{label:<28} {wall * 1000:7.0f} ms wall {cpu * 1000:6.0f} ms cpu "
        f"{taken.new_bytes / 1024:9.1f} KiB added  ({taken.files} files, {taken.outcome})"
    )


def measure(runner: Runner, repeat: int) -> None:
    challenge = load_challenge(REPO_ROOT / "challenges" / CHALLENGE, plugins.catalog())
    run = runner.start(challenge, "bench", mode="scripted")
    try:
        _, workspace = runner.workspace(run.id)
        listing = workspace.exec(["du", "-sb", "/workspace"], timeout=30).stdout.split()
        snapshots = Snapshots.of(runner.store, run.id, runner.paths(run.id), runner.settings)
        first = timed(snapshots, workspace)
        print(f"{CHALLENGE} workspace: {int(listing[0]) / MIB:.2f} MiB on disk")
        print(line("first snapshot", *first))
        same = [timed(snapshots, workspace) for _ in range(repeat)]
        wall = statistics.median(w for w, _, _ in same)
        cpu = statistics.median(c for _, c, _ in same)
        print(line(f"unchanged (median of {repeat})", wall, cpu, same[0][2]))
        runner.overlay(run.id, challenge.path("solution"))
        edited = timed(snapshots, workspace)
        print(line("after an edited notebook", *edited))
        runner.autopilot(run.id)
        executed = timed(snapshots, workspace)
        print(line("after the notebook ran", *executed))
        per_hour = first[2].new_bytes + 60 * max(edited[2].new_bytes, executed[2].new_bytes)
        print(
            f"per hour at one snapshot a minute: snapshotting {60 * wall / 3600 * 100:.2f}% "
            f"of the time (wall, the engine's tar included), the runner's CPU "
            f"{60 * cpu / 3600 * 100:.2f}% of a core; disk at "
            f"most {per_hour / MIB:.1f} MiB (a changed notebook every minute; capped at "
            f"{runner.settings.timeline_cap_mb} MiB)"
        )
        print(f"timeline after the run: {snapshots.timeline.size() / MIB:.2f} MiB")
    finally:
        runner.backend.remove_run(run.id)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=10, help="unchanged snapshots (10)")
    parser.add_argument("--data-dir", type=Path, help="the data directory (default: temporary)")
    args = parser.parse_args()
    client = connect()
    with tempfile.TemporaryDirectory() as temporary:
        settings = Settings.from_env(data_dir=args.data_dir or Path(temporary), warm_pool="")
        images = ImageBuilder(client, settings.images())
        backend = DockerBackend(client, images.runtime())
        store = Store(settings.store_url)
        runner = Runner(settings, store, backend, images, plugins.catalog(), plugins.graders())
        measure(runner, args.repeat)


if __name__ == "__main__":
    main()
