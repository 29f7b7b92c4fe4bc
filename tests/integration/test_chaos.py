"""The chaos suite: for every committed lifecycle step (each of start.START_STEPS,
submit.SUBMIT_STEPS and the grading pipeline's STEPS), a real ``prodproven run`` is killed
with SIGKILL right after that step (tests/integration/chaos_kill.py wraps the step), then
``prodproven recover`` takes the run up (three of them at once, racing for the same runs: each
run must be taken up by exactly one). Every run must end graded (errored with the reason
when the kill was during provisioning), with one result, its archive's checksum what was
recorded before the kill, and no container or volume of it left. Also: two submits of one
run at once (one wins, one result), and a run cancelled on purpose.

All kill points share one data directory and run a few at a time, on the smallest challenge
(docs/authoring.md's hello-service: no services, no prober); run with ``-s`` for the table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from prodproven.runner.config import Settings
from prodproven.runner.lifecycle.recovery import PROVISIONING_LOST
from prodproven.runner.lifecycle.start import open_clock
from prodproven.runner.present.specdoc import shown_files
from prodproven.runner.runs.archives import sha256_of
from prodproven.runner.runs.store import Run, Status, Store
from prodproven.sandbox.docker_backend import DockerBackend
from prodproven.sandbox.environment import RUN_LABEL
from tests.conftest import REPO_ROOT
from tests.integration.chaos_kill import STEP_LISTS

pytestmark = pytest.mark.docker

CHALLENGE = "hello-service"
KILLER = Path(__file__).with_name("chaos_kill.py")
AT_ONCE = 3
KILL_ATTEMPTS = 2
"""Kill points run this many at a time (2 cores: the engine does most of the work)."""

LISTS = STEP_LISTS


@dataclass(frozen=True)
class KillPoint:
    steps: str
    index: int
    name: str

    @property
    def label(self) -> str:
        return f"{self.steps}[{self.index}] {self.name}"

    def candidate(self, attempt: int) -> str:
        return f"chaos-{self.steps}-{self.index}-{attempt}"

    @property
    def provisioning(self) -> bool:
        """Killed before the run ever ran: recovery errors it with the reason."""
        return self.steps == "start" and LISTS["start"][self.index] is not open_clock


KILL_POINTS = [
    KillPoint(steps, index, step.__name__)
    for steps, listed in LISTS.items()
    for index, step in enumerate(listed)
]


@dataclass
class Place:
    data_dir: Path
    challenges: Path

    def cli(self, *args: str, killer: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        if killer:
            command = [sys.executable, str(KILLER), *killer, "--"]
        else:
            command = [sys.executable, "-m", "prodproven.runner.cli"]
        return subprocess.run(
            [*command, "--challenges-dir", str(self.challenges), *args],
            capture_output=True,
            text=True,
            env={**os.environ, "PRODPROVEN_DATA_DIR": str(self.data_dir)},
            timeout=600,
        )

    def store(self) -> Store:
        return Store(Settings.from_env({}, data_dir=self.data_dir).store_url)


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory, docker_client: Any) -> Iterator[Place]:
    """The data directory all runs share; whatever a failing test left of them is removed."""
    challenges = tmp_path_factory.mktemp("challenges")
    for rel, content in shown_files((REPO_ROOT / "docs" / "authoring.md").read_text()).items():
        path = challenges / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    shared = Place(tmp_path_factory.mktemp("chaos"), challenges)
    yield shared
    backend = DockerBackend(docker_client, "unused: nothing is created")
    for run in shared.store().list_runs(results=False):
        backend.remove_run(run.id)


def leftovers(docker_client: Any, run_id: str) -> int:
    selector = {"label": f"{RUN_LABEL}={run_id}"}
    containers = docker_client.containers.list(all=True, filters=selector)
    return len(containers) + len(docker_client.volumes.list(filters=selector))


def graded_events(store: Store, run_id: str) -> int:
    return [e.kind for e in store.events(run_id)].count("status.graded")


def kill(place: Place, point: KillPoint) -> tuple[str, subprocess.CompletedProcess[str]]:
    """Run ``point``'s process until it is killed; returns the candidate name of its run.
    A process that failed before it reached its step (the engine timed out under a busy
    machine: its run errored with the reason, nothing to recover) is tried once more."""
    for attempt in range(KILL_ATTEMPTS):
        args = ("run", CHALLENGE, "--json", "--candidate", point.candidate(attempt))
        proc = place.cli(*args, killer=(point.steps, str(point.index)))
        if proc.returncode == -9:
            break
    return point.candidate(attempt), proc


def lost(point: KillPoint, before: Run, after: Run, docker_client: Any, store: Store) -> str:
    """Why the run counts as lost ('' when it was recovered as it should be)."""
    if point.provisioning:
        if after.status is not Status.errored or after.error != PROVISIONING_LOST:
            return f"expected errored ({PROVISIONING_LOST}), is {after.status}: {after.error}"
    elif after.status is not Status.graded or after.result is None:
        return f"expected graded, is {after.status.value}: {after.error}"
    elif graded_events(store, after.id) != 1:
        return f"graded {graded_events(store, after.id)} times"
    if before.archive_sha256 is not None and after.archive_sha256 != before.archive_sha256:
        return f"archive changed: {before.archive_sha256} -> {after.archive_sha256}"
    if left := leftovers(docker_client, after.id):
        return f"{left} containers or volumes left"
    return ""


def test_every_kill_point_is_recovered_and_no_run_is_lost(place: Place, docker_client: Any) -> None:
    began = time.monotonic()
    with ThreadPoolExecutor(AT_ONCE) as pool:
        procs = pool.map(lambda p: kill(place, p), KILL_POINTS)
        killed = dict(zip(KILL_POINTS, procs, strict=True))
    for point, (_, proc) in killed.items():
        assert proc.returncode == -9, f"{point.label} was not killed: {proc.stderr[-2000:]}"
    store = place.store()
    runs = {run.candidate: run for run in store.list_runs()}
    before = {point: runs[candidate] for point, (candidate, _) in killed.items()}

    with ThreadPoolExecutor(AT_ONCE) as pool:  # racing each other for the same runs
        answers = list(pool.map(lambda _: place.cli("recover", "--json"), range(AT_ONCE)))
    acted: dict[str, list[dict[str, Any]]] = {}
    for answer in answers:
        assert answer.returncode == 0, answer.stderr[-2000:]
        for one in json.loads(answer.stdout):
            if one["action"] != "nothing to do" and not one["action"].startswith("left alone"):
                acted.setdefault(one["run_id"], []).append(one)
    rows = []
    for point in KILL_POINTS:
        after = store.get(before[point].id)
        done = acted.get(after.id, [])
        why = lost(point, before[point], after, docker_client, store)
        if len(done) != 1:
            why = f"recovered by {len(done)} processes, not 1"
        action = done[0]["action"] if done else ""
        rows.append((point.label, before[point].status.value, after.status.value, action, why))

    lines = [f"{'kill point':<32} {'left as':<13} {'recovered to':<13} action / lost because"]
    lines += [f"{a:<32} {b:<13} {c:<13} {e or d}" for a, b, c, d, e in rows]
    lost_runs = sum(1 for row in rows if row[4])
    lines.append(
        f"{len(rows)} kill points tried, {lost_runs} runs lost, {time.monotonic() - began:.0f} s"
    )
    print("\n" + "\n".join(lines))
    assert lost_runs == 0


def test_two_submits_of_one_run_at_once_one_wins_and_it_is_graded_once(
    place: Place, docker_client: Any
) -> None:
    started = place.cli("start", CHALLENGE, "--candidate", "twins", "--no-supervise", "--json")
    assert started.returncode == 0, started.stderr[-2000:]
    run_id = json.loads(started.stdout)["run_id"]
    with ThreadPoolExecutor(2) as pool:
        both = list(pool.map(lambda _: place.cli("submit", run_id, "--json"), range(2)))
    codes = sorted(proc.returncode for proc in both)
    assert codes == [0, 1], [proc.stderr[-1000:] for proc in both]
    loser = next(proc for proc in both if proc.returncode == 1)
    assert f"run {run_id} is being submitted by another process" in loser.stderr
    store = place.store()
    assert store.get(run_id).status is Status.graded
    assert graded_events(store, run_id) == 1
    assert leftovers(docker_client, run_id) == 0


def test_a_cancelled_run_keeps_what_its_workspace_held_and_leaves_no_container(
    place: Place, docker_client: Any
) -> None:
    started = place.cli("start", CHALLENGE, "--candidate", "quitter", "--no-supervise", "--json")
    assert started.returncode == 0, started.stderr[-2000:]
    run_id = json.loads(started.stdout)["run_id"]
    cancelled = place.cli("cancel", run_id, "--reason", "the candidate withdrew", "--json")
    assert cancelled.returncode == 0, cancelled.stderr[-2000:]
    run = place.store().get(run_id)
    assert (run.status, run.error) == (Status.cancelled, "the candidate withdrew")
    assert run.archive_path is not None and run.archive_sha256 == sha256_of(Path(run.archive_path))
    assert leftovers(docker_client, run_id) == 0
