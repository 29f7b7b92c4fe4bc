"""Snapshots of a running run's workspace (runner/lifecycle/snapshots.py), with a workspace
that streams what the test says: a failure never leaves the snapshot (it is logged, recorded
once per distinct error and tried again), the cap is announced once, the snapshot at submit
seals the timeline, and periodic snapshots run on a thread of their own, no more often than
their interval."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

from prodproven.runner.lifecycle import snapshots
from prodproven.runner.lifecycle.snapshots import Snapshots
from prodproven.runner.runs.store import Store
from prodproven.runner.runs.timeline import Outcome, timeline_of
from prodproven.runner.runs.workspace import RunPaths
from prodproven.sandbox import tarball
from prodproven.sandbox.environment import Pod, Sandbox
from prodproven.sandbox.errors import ContainerError


@dataclass
class Workspace:
    """A workspace container holding ``files``; ``broken`` makes reading it fail so;
    ``gate``, when set, is waited for before each read."""

    files: dict[str, bytes] = field(default_factory=dict)
    broken: str | None = None
    gate: threading.Event | None = None
    reads: list[str] = field(default_factory=list)

    def archive_chunks(self, path: str) -> Generator[bytes, None, None]:
        self.reads.append(path)
        if self.gate is not None:
            self.gate.wait(5)
        if self.broken is not None:
            raise ContainerError(self.broken)
        yield tarball.files({f"./{p}": c for p, c in self.files.items()}, owner=1000)


@dataclass
class OnePod:
    workspace: Workspace

    def member(self, role: str) -> Sandbox | None:
        return cast(Sandbox, self.workspace) if role == "workspace" else None


@pytest.fixture
def run_id(store: Store) -> str:
    return store.create_run(
        challenge_id="fix-drift",
        challenge_version="1.1.0",
        challenge_path="/challenges/fix-drift",
        candidate="ada",
        mode="interactive",
    ).id


def made(store: Store, run_id: str, tmp_path: Path, **options: Any) -> Snapshots:
    return Snapshots(store, run_id, RunPaths(tmp_path / run_id), **{"cap_bytes": 2**20, **options})


def events(store: Store, run_id: str, kind: str) -> list[dict[str, Any]]:
    return [dict(e.data or {}) for e in store.events(run_id) if e.kind == kind]


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_snapshot_reads_the_workspace_folder_through_the_engine_into_the_runs_timeline(
    store: Store, run_id: str, tmp_path: Path
) -> None:
    box = Workspace({"a.py": b"a\n"})
    taken = made(store, run_id, tmp_path).take(cast(Sandbox, box))
    assert taken is not None and taken.outcome is Outcome.taken
    assert box.reads == ["/workspace/."]
    assert list(timeline_of(tmp_path / run_id).snapshots()[0].files) == ["a.py"]


def test_a_failed_snapshot_is_logged_recorded_once_per_error_and_tried_again(
    store: Store, run_id: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    box = Workspace({"a.py": b"a\n"}, broken="the engine is gone")
    one = made(store, run_id, tmp_path)
    assert one.take(cast(Sandbox, box)) is None
    assert one.take(cast(Sandbox, box)) is None
    assert events(store, run_id, "timeline.failed") == [
        {"error": "ContainerError: the engine is gone"}
    ]
    assert "snapshot of run" in caplog.text and "the engine is gone" in caplog.text
    box.broken = None
    taken = one.take(cast(Sandbox, box))
    assert taken is not None and taken.outcome is Outcome.taken


def test_reaching_the_cap_is_recorded_once_with_the_cap(
    store: Store, run_id: str, tmp_path: Path
) -> None:
    one = made(store, run_id, tmp_path, cap_bytes=100)
    box = Workspace({"big.txt": b"x" * 500})
    outcomes = [one.take(cast(Sandbox, box)) for _ in range(2)]
    assert [t.outcome if t else None for t in outcomes] == [Outcome.capped, Outcome.stopped]
    (capped,) = events(store, run_id, "timeline.capped")
    assert (capped["cap_bytes"], capped["bytes"]) == (100, 0)
    assert "PRODPROVEN_TIMELINE_CAP_MB" in capped["message"]


def test_the_snapshot_at_submit_is_taken_then_the_timeline_sealed(
    store: Store, run_id: str, tmp_path: Path
) -> None:
    box = Workspace({"a.py": b"a\n"})
    made(store, run_id, tmp_path).final(cast(Sandbox, box))
    timeline = timeline_of(tmp_path / run_id)
    (sealed,) = events(store, run_id, "timeline.sealed")
    assert (sealed["snapshots"], sealed["blobs"], sealed["bytes"]) == (1, 1, timeline.size())
    box.files["a.py"] = b"changed after the submit\n"
    later = made(store, run_id, tmp_path).take(cast(Sandbox, box))
    assert later is not None and later.outcome is Outcome.stopped


def test_a_failed_snapshot_at_submit_still_seals_what_there_is(
    store: Store, run_id: str, tmp_path: Path
) -> None:
    made(store, run_id, tmp_path).final(cast(Sandbox, Workspace(broken="stopped")))
    assert [e["snapshots"] for e in events(store, run_id, "timeline.sealed")] == [0]
    assert len(events(store, run_id, "timeline.failed")) == 1


def test_periodic_snapshots_run_on_their_own_thread_at_most_once_an_interval(
    store: Store, run_id: str, tmp_path: Path
) -> None:
    gate = threading.Event()
    box = Workspace({"a.py": b"a\n"}, gate=gate)
    pod = cast(Pod, OnePod(box))
    one = made(store, run_id, tmp_path, every_s=0.3)
    one.tick(pod)  # the first at once, on a thread: tick itself does not wait for it
    one.tick(pod)  # one under way: no second
    gate.set()
    wait_until(lambda: len(timeline_of(tmp_path / run_id).snapshots()) == 1)
    box.files["a.py"] = b"b\n"
    wait_until(lambda: one._thread is not None and not one._thread.is_alive())
    one.tick(pod)  # not due yet
    assert len(box.reads) == 1
    time.sleep(0.35)
    one.tick(pod)
    wait_until(lambda: len(timeline_of(tmp_path / run_id).snapshots()) == 2)


def test_a_slow_snapshot_puts_the_next_one_further_off(
    store: Store, run_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshots, "SLOWDOWN", 1000)
    gate = threading.Event()
    box = Workspace({"a.py": b"a\n"}, gate=gate)
    pod = cast(Pod, OnePod(box))
    one = made(store, run_id, tmp_path, every_s=0.01)
    one.tick(pod)
    time.sleep(0.05)  # the snapshot takes 50 ms: the next is 50 s off
    gate.set()
    wait_until(lambda: one._thread is not None and not one._thread.is_alive())
    time.sleep(0.05)
    one.tick(pod)
    assert len(box.reads) == 1


def test_a_periodic_snapshot_failing_after_the_submit_sealed_the_timeline_records_nothing(
    store: Store, run_id: str, tmp_path: Path
) -> None:
    made(store, run_id, tmp_path).final(cast(Sandbox, Workspace({"a.py": b"a\n"})))
    late = made(store, run_id, tmp_path)
    assert late.take(cast(Sandbox, Workspace(broken="the pod was removed"))) is not None
    late._periodic(cast(Pod, BrokenPod()))
    assert events(store, run_id, "timeline.failed") == []


class BrokenPod:
    def member(self, role: str) -> Sandbox | None:
        raise ContainerError("the pod of the run is gone")
