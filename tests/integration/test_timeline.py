"""The workspace timeline of a real run (runner/runs/timeline.py, lifecycle/snapshots.py): the
run's supervisor snapshots the workspace through the engine while it runs, the submit takes
the last snapshot and seals the timeline, and the changes read back name the file created and
changed with their line counts, each content stored once."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from prodproven.runner import plugins
from prodproven.runner.config import Settings
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.lifecycle.supervisor import RunSupervisor
from prodproven.runner.runs.timeline import Timeline, timeline_of
from prodproven.runner.spec.challenge import load_challenge
from prodproven.sandbox.images import ImageBuilder
from tests.conftest import BUILTIN
from tests.integration.conftest import runner_for

pytestmark = pytest.mark.docker


def wait_until(condition: Callable[[], bool], timeout: float = 180.0) -> None:
    """Snapshots back off to 20 times their own duration, so a loaded machine (CI's parallel
    phase) spaces them by tens of seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def has(timeline: Timeline, path: str, snapshots: int) -> bool:
    found = timeline.snapshots()
    return len(found) >= snapshots and path in found[-1].files


def test_a_runs_timeline_lists_the_creation_and_the_change_with_line_counts(
    images: ImageBuilder, runtime_image: str, tmp_path: Path
) -> None:
    settings = Settings.from_env(data_dir=tmp_path / "data", snapshot_every_s=1)
    runner: Runner = runner_for(settings, images, runtime_image)
    challenge = load_challenge(BUILTIN / "deploy-model", plugins.catalog())
    run = runner.start(challenge, "ada")
    timeline = timeline_of(runner.paths(run.id).root)
    try:
        _, workspace = runner.workspace(run.id)
        with RunSupervisor(runner, run.id).background():
            wait_until(lambda: has(timeline, "app.py", 1))  # the starter files, at once
            write = "printf 'one\\ntwo\\n' > /workspace/notes.md"
            workspace.exec(["sh", "-c", write], user="1000", timeout=10)
            wait_until(lambda: has(timeline, "notes.md", 2))
            change = "printf 'one\\nTWO\\nthree\\n' > /workspace/notes.md"
            workspace.exec(["sh", "-c", change], user="1000", timeout=10)
            wait_until(lambda: len(timeline.snapshots()) >= 3)
        runner.submit(run.id)
    finally:
        runner.backend.remove_run(run.id)

    notes = [c for c in timeline.changes() if c.path == "notes.md"]
    assert [(c.kind, c.added, c.removed) for c in notes] == [("created", 2, 0), ("changed", 2, 1)]
    assert notes[0].at < notes[1].at
    starter = {c.path for c in timeline.changes() if c.step == 0}
    assert {"app.py", "start.sh"} <= starter
    assert all(c.path == "notes.md" for c in timeline.changes() if c.step > 0)

    snapshots = timeline.snapshots()
    assert len(snapshots) == 3  # the submit's snapshot saw nothing new
    kept = {h for s in snapshots for p, h in s.files.items() if p not in s.large}
    assert {p.name for p in timeline.blobs.iterdir()} == kept  # each content once
    sealed = [e.data for e in runner.store.events(run.id) if e.kind == "timeline.sealed"]
    assert sealed and sealed[0]["snapshots"] == 3
    assert not [e for e in runner.store.events(run.id) if e.kind == "timeline.failed"]
