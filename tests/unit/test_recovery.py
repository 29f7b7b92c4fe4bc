"""Crash-proof runs, decided without containers: one owner per run (a lock the kernel frees
when its process dies), recovery of each status a dead process can leave a run in, gc of what
nobody owns, and cancelling a run on purpose. The real thing, with SIGKILL and Docker, is
tests/integration/test_chaos.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from prodproven.runner.config import Settings
from prodproven.runner.errors import RunStateError
from prodproven.runner.grading.evaluation import EvaluationLost
from prodproven.runner.grading.pipeline import GradingJob
from prodproven.runner.lifecycle import core
from prodproven.runner.lifecycle.admission import QUEUE_LOST
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.lifecycle.ownership import RunBusy, RunLocks
from prodproven.runner.lifecycle.recovery import (
    PROVISIONING_LOST,
    WORKSPACE_LOST,
    Recoverable,
    Recovery,
)
from prodproven.runner.runs.archives import sha256_of
from prodproven.runner.runs.store import Run, Status, Store, utcnow
from prodproven.runner.runs.workspace import RunPaths
from prodproven.runner.spec.challenge import Catalog
from prodproven.sandbox.environment import Backend, Pod
from prodproven.sandbox.images import ImageBuilder
from tests.conftest import BUILTIN
from tests.unit.fakes import write_workspace


@dataclass
class FakePod:
    backend: FakeBackend
    run_id: str
    purpose: str
    members: set[str]

    def member(self, role: str) -> object | None:
        return role if role in self.members else None

    def remove(self) -> None:
        self.backend.pods.pop((self.run_id, self.purpose), None)


@dataclass
class FakeBackend:
    """Pods by (run, purpose); what was removed, in order."""

    pods: dict[tuple[str, str], FakePod] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)

    def add(self, run_id: str, purpose: str = "workspace", *members: str) -> None:
        self.pods[(run_id, purpose)] = FakePod(self, run_id, purpose, set(members))

    def attach_pod(self, run_id: str, purpose: str) -> Pod | None:
        return cast(Pod | None, self.pods.get((run_id, purpose)))

    def run_ids_with_leftovers(self) -> set[str]:
        return {run_id for run_id, _ in self.pods}

    def remove_run(self, run_id: str, *, keep_volumes: bool = False) -> int:
        gone = [key for key in self.pods if key[0] == run_id]
        for key in gone:
            del self.pods[key]
        self.removed.append(run_id)
        return len(gone)


@dataclass
class Recording:
    """What recovery asks of the runner, on a real store: ``finish`` submits (archiving a
    workspace) and grades, ``grade`` grades; every call is recorded."""

    settings: Settings
    store: Store
    backend: FakeBackend
    calls: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.locks = RunLocks(lambda run_id: self.paths(run_id).root)

    def paths(self, run_id: str) -> RunPaths:
        return RunPaths(self.settings.data_dir / "runs" / run_id)

    def owning(self, run_id: str, doing: str) -> AbstractContextManager[None]:
        return self.locks.hold(run_id, doing)

    def finish(self, run_id: str) -> Run:
        self.calls.append(("finish", run_id))
        if self.store.get(run_id).status is Status.running:
            self.store.transition(run_id, Status.submitted, submitted_at=utcnow())
        archive = self.paths(run_id).archive
        archive.parent.mkdir(parents=True, exist_ok=True)
        write_workspace(archive)
        self.store.update(run_id, archive_path=str(archive), archive_sha256=sha256_of(archive))
        self.backend.pods.pop((run_id, "workspace"), None)
        return self.grade(run_id)

    def grade(self, run_id: str) -> Run:
        self.calls.append(("grade", run_id))
        self.store.transition(run_id, Status.grading)
        return self.store.transition(run_id, Status.graded, score=50.0, graded_at=utcnow())


@pytest.fixture
def runner(settings: Settings, store: Store) -> Recording:
    return Recording(settings, store, FakeBackend())


spawned: list[Settings] = []


def recovery(runner: Recording) -> Recovery:
    def spawn(settings: Settings) -> int:
        spawned.append(settings)
        return 4242

    spawned.clear()
    return Recovery(cast(Recoverable, runner), spawn)


def left_in(store: Store, status: Status, mode: str = "scripted") -> Run:
    """A run a dead process left in ``status`` (the statuses on the way, committed)."""
    run = store.create_run(
        challenge_id="c", challenge_version="1", challenge_path="/c", candidate="ada", mode=mode
    )
    order = [Status.provisioning, Status.running, Status.submitted, Status.grading]
    for step in order[: order.index(status) + 1] if status in order else []:
        store.transition(run.id, step)
    return store.get(run.id)


def archived(runner: Recording | Runner, run: Run) -> Run:
    archive = runner.paths(run.id).archive
    archive.parent.mkdir(parents=True, exist_ok=True)
    write_workspace(archive)
    runner.store.update(run.id, archive_path=str(archive), archive_sha256=sha256_of(archive))
    return runner.store.get(run.id)


def another_process(runner: Recording, run_id: str, doing: str) -> AbstractContextManager[None]:
    """The run owned as another process would own it (a lock file opened apart)."""
    return RunLocks(lambda r: runner.paths(r).root).hold(run_id, doing)


# one owner per run ---------------------------------------------------------------------------
def test_a_second_owner_of_a_run_is_refused_with_what_the_first_is_doing(
    runner: Recording, store: Store
) -> None:
    run = left_in(store, Status.running)
    busy = rf"run {run.id} is being submitted by another process"
    with another_process(runner, run.id, "submitted"):
        with pytest.raises(RunBusy, match=busy), runner.owning(run.id, "submitted"):
            pass
        assert not runner.locks.free(run.id)
    assert runner.locks.free(run.id)


def test_the_owner_may_take_its_run_again_while_another_thread_may_not(
    runner: Recording, store: Store
) -> None:
    run = left_in(store, Status.running)
    refused: list[BaseException] = []

    def other_thread() -> None:
        try:
            with runner.owning(run.id, "graded"):
                pass
        except RunBusy as exc:
            refused.append(exc)

    with runner.owning(run.id, "run"), runner.owning(run.id, "submitted"):
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert len(refused) == 1 and "another thread" in str(refused[0])
    assert runner.locks.free(run.id)


def test_a_run_is_free_again_when_its_owning_process_is_killed(
    runner: Recording, store: Store
) -> None:
    run = left_in(store, Status.submitted)
    lock = runner.paths(run.id).root / "owner.lock"
    lock.parent.mkdir(parents=True)
    holder = (
        "import fcntl, sys, time; f = open(sys.argv[1], 'a+'); "
        "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", holder, str(lock)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "held\n"
        assert not runner.locks.free(run.id)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert runner.locks.free(run.id)


def test_two_submits_of_one_run_at_once_one_wins(
    settings: Settings, store: Store, catalog: Catalog
) -> None:
    runner = real_runner(settings, store, FakeBackend(), catalog)
    run = left_in(store, Status.running)
    busy = f"run {run.id} is being submitted by another process"
    with (
        RunLocks(lambda r: runner.paths(r).root).hold(run.id, "submitted"),
        pytest.raises(RunBusy, match=busy),
    ):
        runner.submit(run.id)
    assert store.get(run.id).status is Status.running


# recovery, by the status a dead process left ------------------------------------------------
@pytest.mark.parametrize("status", [Status.created, Status.provisioning])
def test_a_run_left_provisioning_is_torn_down_and_errored_with_the_reason(
    runner: Recording, store: Store, status: Status
) -> None:
    run = left_in(store, status)
    runner.backend.add(run.id, "workspace", "workspace")
    done = recovery(runner).one(run.id)
    assert (done.found, done.status) == (status.value, "errored")
    assert store.get(run.id).error == PROVISIONING_LOST
    assert runner.backend.pods == {}
    assert runner.calls == []


def test_a_queued_run_whose_waiting_process_died_is_errored_and_one_still_waited_for_is_not(
    runner: Recording, store: Store
) -> None:
    dead, waited = (left_in(store, Status.created) for _ in range(2))
    for run in (dead, waited):
        store.transition(run.id, Status.queued)
    with another_process(runner, waited.id, "started"):
        done = recovery(runner).all()
    assert [(d.run_id, d.found, d.status) for d in done] == [
        (dead.id, "queued", "errored"),
        (waited.id, "queued", "queued"),
    ]
    assert store.get(dead.id).error == QUEUE_LOST


def test_a_run_waiting_for_the_cluster_when_its_process_died_is_errored_and_its_pod_removed(
    runner: Recording, store: Store
) -> None:
    """Admitted, then left pending by the cluster (``start.StartJob.waiting``): the pending pod
    would be placed for nobody, and the run holds its reservation until it ends."""
    run = left_in(store, Status.provisioning)
    store.transition(run.id, Status.queued, error="no suitable node")
    runner.backend.add(run.id, "workspace")
    done = recovery(runner).one(run.id)
    assert (done.found, done.status) == ("queued", "errored")
    assert store.get(run.id).error == QUEUE_LOST
    assert runner.backend.removed == [run.id] and runner.backend.pods == {}


def test_a_scripted_run_whose_driver_died_is_submitted_as_it_stood_and_graded(
    runner: Recording, store: Store
) -> None:
    run = left_in(store, Status.running, mode="scripted")
    runner.backend.add(run.id, "workspace", "workspace")
    done = recovery(runner).one(run.id)
    assert done.status == "graded" and runner.calls[0] == ("finish", run.id)
    assert "recovery.started" in [e.kind for e in store.events(run.id)]


def test_an_interactive_run_without_a_supervisor_gets_one_and_keeps_running(
    runner: Recording, store: Store
) -> None:
    run = left_in(store, Status.running, mode="interactive")
    done = recovery(runner).one(run.id)
    assert spawned == [runner.settings] and done.action == "supervisor started"
    assert store.get(run.id).status is Status.running and runner.calls == []
    [asked] = [e.data for e in store.events(run.id) if e.kind == "supervisor.spawned"]
    assert asked["pid"] == 4242 and asked["by"] == "recovery"


def test_an_interactive_run_that_is_supervised_is_left_to_its_supervisor(
    runner: Recording, store: Store
) -> None:
    run = left_in(store, Status.running, mode="interactive")
    supervisors = RunLocks(lambda r: runner.paths(r).root, "supervisor.lock")
    with supervisors.hold(run.id, "supervised"):
        done = recovery(runner).one(run.id)
    assert spawned == [] and done.action == "already supervised"


def test_a_submitted_run_with_its_archive_intact_is_graded_and_its_leftover_pod_removed(
    runner: Recording, store: Store
) -> None:
    run = archived(runner, left_in(store, Status.submitted))
    runner.backend.add(run.id, "workspace", "workspace")
    sha = run.archive_sha256
    done = recovery(runner).one(run.id)
    assert done.status == "graded" and runner.calls == [("grade", run.id)]
    assert runner.backend.pods == {} and store.get(run.id).archive_sha256 == sha


def test_a_submitted_run_whose_archive_is_missing_is_archived_again_from_its_workspace(
    runner: Recording, store: Store
) -> None:
    run = archived(runner, left_in(store, Status.submitted))
    Path(str(run.archive_path)).unlink()
    runner.backend.add(run.id, "workspace", "workspace")
    done = recovery(runner).one(run.id)
    assert done.action == "archived again and graded"
    assert runner.calls[0] == ("finish", run.id)
    assert "recovery.rearchive" in [e.kind for e in store.events(run.id)]


def test_a_submit_stopped_before_its_archive_was_recorded_is_finished_from_the_workspace(
    runner: Recording, store: Store
) -> None:
    run = left_in(store, Status.submitted)
    runner.backend.add(run.id, "workspace", "workspace")
    done = recovery(runner).one(run.id)
    assert (done.action, done.status) == ("archived and graded", "graded")
    assert runner.calls[0] == ("finish", run.id)


def test_a_submitted_run_whose_workspace_is_gone_before_its_archive_is_errored(
    runner: Recording, store: Store
) -> None:
    run = left_in(store, Status.submitted)
    done = recovery(runner).one(run.id)
    assert done.status == "errored" and store.get(run.id).error == WORKSPACE_LOST
    assert runner.calls == []


def test_a_run_left_grading_is_graded_again_from_its_archive(
    runner: Recording, store: Store
) -> None:
    run = archived(runner, left_in(store, Status.grading))
    done = recovery(runner).one(run.id)
    assert done.status == "graded" and runner.calls == [("grade", run.id)]


def test_a_run_another_process_owns_is_left_alone(runner: Recording, store: Store) -> None:
    run = archived(runner, left_in(store, Status.grading))
    with another_process(runner, run.id, "graded"):
        done = recovery(runner).one(run.id)
    assert done.action.startswith("left alone") and runner.calls == []
    assert store.get(run.id).status is Status.grading


def test_recovery_takes_up_every_unfinished_run_and_one_failure_stops_none(
    runner: Recording, store: Store
) -> None:
    failing = archived(runner, left_in(store, Status.grading))
    provisioning = left_in(store, Status.provisioning)
    finished = store.transition(left_in(store, Status.running).id, Status.errored, error="x")

    def broken_grade(run_id: str) -> Run:
        raise RunStateError(f"run {run_id} cannot be graded")

    runner.grade = broken_grade  # type: ignore[method-assign]
    done = {one.run_id: one for one in recovery(runner).all()}
    assert set(done) == {failing.id, provisioning.id}
    assert done[failing.id].action == "failed" and "cannot be graded" in done[failing.id].detail
    assert done[provisioning.id].status == "errored"
    assert store.get(finished.id).status is Status.errored


# gc ------------------------------------------------------------------------------------------
def real_runner(settings: Settings, store: Store, backend: FakeBackend, catalog: Catalog) -> Runner:
    return Runner(settings, store, cast(Backend, backend), cast(ImageBuilder, None), catalog, {})


def test_gc_collects_a_grading_run_whose_process_died_and_keeps_one_being_graded(
    settings: Settings, store: Store, catalog: Catalog
) -> None:
    backend = FakeBackend()
    runner = real_runner(settings, store, backend, catalog)
    dead, alive = (left_in(store, Status.grading) for _ in range(2))
    for run in (dead, alive):
        backend.add(run.id, "evaluation", "service")
    with RunLocks(lambda r: runner.paths(r).root).hold(alive.id, "graded"):
        removed = runner.gc()
    assert removed == {dead.id: 1}
    assert (alive.id, "evaluation") in backend.pods


def test_gc_keeps_running_runs_and_removes_runs_the_store_does_not_know(
    settings: Settings, store: Store, catalog: Catalog
) -> None:
    backend = FakeBackend()
    runner = real_runner(settings, store, backend, catalog)
    running = left_in(store, Status.running, mode="interactive")
    backend.add(running.id, "workspace", "workspace")
    backend.add("prep-0123456789", "prepare", "generator")
    assert runner.gc() == {"prep-0123456789": 1}
    assert not (settings.data_dir / "runs" / "prep-0123456789").exists()


# cancel --------------------------------------------------------------------------------------
def test_cancelling_removes_the_containers_and_records_the_reason(
    settings: Settings, store: Store, catalog: Catalog
) -> None:
    backend = FakeBackend()
    runner = real_runner(settings, store, backend, catalog)
    run = left_in(store, Status.running, mode="interactive")
    backend.add(run.id, "workspace")  # its workspace container is gone: nothing to archive
    cancelled = runner.cancel(run.id, "  the candidate asked to stop  ")
    assert cancelled.status is Status.cancelled and cancelled.error == "the candidate asked to stop"
    assert backend.pods == {}
    archive = [e.data for e in store.events(run.id) if e.kind == "cancel.archive"]
    assert archive == [{"archived": False, "why": "gone"}]


@pytest.mark.parametrize("status", [Status.graded, Status.errored, Status.cancelled])
def test_a_run_that_has_ended_cannot_be_cancelled(
    settings: Settings, store: Store, catalog: Catalog, status: Status
) -> None:
    runner = real_runner(settings, store, FakeBackend(), catalog)
    run = left_in(store, Status.grading)
    if status is Status.graded:
        store.transition(run.id, Status.graded)
    else:
        store.transition(run.id, status, error="before")
    with pytest.raises(RunStateError, match="only a run that has not ended"):
        runner.cancel(run.id, "too late")
    assert store.get(run.id).status is status


def test_a_cancel_without_a_reason_is_refused(
    settings: Settings, store: Store, catalog: Catalog
) -> None:
    runner = real_runner(settings, store, FakeBackend(), catalog)
    run = left_in(store, Status.running)
    with pytest.raises(RunStateError, match="a reason is required"):
        runner.cancel(run.id, "   ")
    assert store.get(run.id).status is Status.running


def test_a_run_being_submitted_elsewhere_cannot_be_cancelled_meanwhile(
    settings: Settings, store: Store, catalog: Catalog
) -> None:
    runner = real_runner(settings, store, FakeBackend(), catalog)
    run = left_in(store, Status.submitted)
    with (
        RunLocks(lambda r: runner.paths(r).root).hold(run.id, "submitted"),
        pytest.raises(RunBusy, match="being submitted by another process"),
    ):
        runner.cancel(run.id, "stop")


def test_a_submit_of_a_run_already_graded_is_refused_and_grades_nothing_again(
    settings: Settings, store: Store, catalog: Catalog
) -> None:
    runner = real_runner(settings, store, FakeBackend(), catalog)
    run = left_in(store, Status.grading)
    store.transition(run.id, Status.graded, score=10.0)
    with pytest.raises(RunStateError, match="is graded; only running runs submit"):
        runner.finish(run.id)
    assert [e.kind for e in store.events(run.id)].count("status.grading") == 1


# a grading whose evaluation pod was lost with its node -----------------------------------------
def test_a_grading_whose_evaluation_pod_was_lost_keeps_its_archive_and_grades_again(
    settings: Settings, store: Store, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = FakeBackend()
    runner = real_runner(settings, store, backend, catalog)
    run = store.create_run(
        challenge_id="deploy-model",
        challenge_version="1",
        challenge_path=str(BUILTIN / "deploy-model"),
        candidate="ada",
        mode="scripted",
    )
    for step in (Status.provisioning, Status.running, Status.submitted):
        store.transition(run.id, step)
    run = archived(runner, run)
    digest = run.archive_sha256
    lost = "the evaluation pod of run x is lost: node pp-cluster-node-2 is down"
    attempts: list[int] = []

    def grade(job: GradingJob) -> SimpleNamespace:
        attempts.append(job.plan.attempt)
        if len(attempts) == 1:
            backend.add(run.id, "evaluation", "service")
            raise EvaluationLost(lost)
        return SimpleNamespace(score=80.0, stored=lambda: {"score": 80.0})

    monkeypatch.setattr(core, "grade", grade)
    monkeypatch.setattr(
        Runner, "_evaluation_plan", lambda self, r, c, a: SimpleNamespace(attempt=a)
    )
    monkeypatch.setattr(core, "Evaluation", lambda *args: None)
    with pytest.raises(EvaluationLost):
        runner.grade(run.id)
    errored = store.get(run.id)
    assert (errored.status, errored.error) == (Status.errored, lost)
    assert errored.archive_path == run.archive_path
    assert sha256_of(Path(str(errored.archive_path))) == digest
    assert runner.gc() == {run.id: 1}  # the lost pod's leftovers
    regraded = runner.grade(run.id)
    assert (regraded.status, regraded.score, attempts) == (Status.graded, 80.0, [1, 2])
