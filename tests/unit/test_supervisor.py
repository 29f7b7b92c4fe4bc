"""The data directory's supervisor (runner/lifecycle/supervisor.py), decided without
containers: one process supervises every interactive run that asked for it, a thread per run,
keeps itself single with a lock file and stops once idle. Firing incidents and reading the
prober are tests/integration/test_incidents.py. A run whose pod is lost with its node is
errored with the reason and let go."""

from __future__ import annotations

import fcntl
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from prodproven.runner.config import Settings
from prodproven.runner.errors import ProdprovenError
from prodproven.runner.lifecycle import supervisor
from prodproven.runner.lifecycle.dueloop import DueLoop
from prodproven.runner.lifecycle.ownership import RunLocks
from prodproven.runner.lifecycle.supervisor import (
    WANTED,
    AllSupervisor,
    AlreadySupervised,
    RunSupervisor,
    Supervised,
    holder,
)
from prodproven.runner.runs.prober import Canary
from prodproven.runner.runs.store import Run, Status, Store, utcnow
from prodproven.runner.runs.workspace import RunPaths
from prodproven.runner.spec.incidents import ProbeSpec
from prodproven.sandbox.environment import Pod
from prodproven.sandbox.errors import SandboxError


class NoPods:
    def attach_pod(self, run_id: str, purpose: str) -> Pod | None:
        return None


@dataclass
class Provisioner:
    """A challenge without probe; ``broken`` runs cannot be loaded."""

    broken: set[str] = field(default_factory=set)

    def challenge_of(self, run: Run) -> object:
        if run.id in self.broken:
            raise ProdprovenError(f"challenge of run {run.id} is gone")
        return SimpleNamespace(spec=SimpleNamespace(probe=None))


@dataclass
class Watched:
    """What a supervisor needs of the runner, on a real store: ``finish`` submits."""

    settings: Settings
    store: Store
    backend: NoPods = field(default_factory=NoPods)
    provisioner: Provisioner = field(default_factory=Provisioner)
    finished: list[str] = field(default_factory=list)

    def paths(self, run_id: str) -> RunPaths:
        return RunPaths(self.settings.data_dir / "runs" / run_id)

    def finish(self, run_id: str) -> Run:
        self.finished.append(run_id)
        return self.store.transition(run_id, Status.submitted, submitted_at=utcnow())


@pytest.fixture
def runner(settings: Settings, store: Store) -> Watched:
    return Watched(settings, store)


@pytest.fixture
def every(runner: Watched, settings: Settings) -> Iterator[AllSupervisor]:
    made = AllSupervisor(
        cast(Supervised, runner),
        supervisor.lock_path(settings),
        poll_s=0.02,
        idle_exit_s=0.3,
        retry_s=60,
        tick_s=0.02,
    )
    yield made
    made.close()


def running(
    store: Store, *, mode: str = "interactive", wanted: bool = True, in_s: float = 3600
) -> Run:
    run = store.create_run(
        challenge_id="deploy-model",
        challenge_version="1.0.0",
        challenge_path="/challenges/deploy-model",
        candidate="ada",
        mode=mode,
    )
    store.transition(run.id, Status.provisioning)
    run = store.transition(run.id, Status.running, deadline=utcnow() + timedelta(seconds=in_s))
    if wanted:
        store.add_event(run.id, WANTED, {"pid": 1})
    return run


@pytest.fixture
def in_background(every: AllSupervisor) -> Iterator[Callable[[], threading.Thread]]:
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def launch() -> threading.Thread:
        thread = threading.Thread(target=every.run, args=(stop,))
        thread.start()
        threads.append(thread)
        return thread

    yield launch
    stop.set()
    for thread in threads:
        thread.join(timeout=10)


def wait_until(check: Callable[[], bool], timeout: float = 5) -> None:
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


# which runs it takes up ---------------------------------------------------------------------
def test_it_supervises_each_interactive_run_that_asked_for_it_on_a_thread_of_its_own(
    every: AllSupervisor, store: Store
) -> None:
    asked = [running(store), running(store)]
    assert every.sweep() == 2
    assert sorted(every.supervising()) == sorted(run.id for run in asked)


def test_it_leaves_alone_a_run_started_without_a_supervisor_and_scripted_runs(
    every: AllSupervisor, store: Store
) -> None:
    running(store, wanted=False)
    running(store, mode="scripted")
    assert every.sweep() == 1  # the interactive one still counts as running
    assert every.supervising() == []


def test_a_run_supervised_by_another_process_is_not_supervised_twice(
    every: AllSupervisor, runner: Watched, store: Store
) -> None:
    run = running(store)
    other = RunLocks(lambda run_id: runner.paths(run_id).root, supervisor.LOCK_NAME)
    with other.hold(run.id, "supervised"):
        every.sweep()
        wait_until(lambda: every.supervising() == [])
        every.sweep()  # tried again only after retry_s
        assert every.supervising() == []


def test_a_run_whose_supervision_fails_is_left_for_later_and_the_others_go_on(
    every: AllSupervisor, runner: Watched, store: Store
) -> None:
    broken, fine = running(store), running(store)
    runner.provisioner.broken.add(broken.id)
    every.sweep()
    wait_until(lambda: every.supervising() == [fine.id])


# what it does for a run ---------------------------------------------------------------------
def test_a_run_is_submitted_at_its_deadline_and_its_thread_ends(
    every: AllSupervisor, runner: Watched, store: Store
) -> None:
    run = running(store, in_s=0.3)
    every.sweep()
    wait_until(lambda: store.get(run.id).status is Status.submitted)
    wait_until(lambda: every.supervising() == [])
    assert runner.finished == [run.id]
    assert "deadline.reached" in [event.kind for event in store.events(run.id)]


def test_a_run_ended_by_someone_else_is_let_go(every: AllSupervisor, store: Store) -> None:
    run = running(store)
    every.sweep()
    store.transition(run.id, Status.submitted)
    wait_until(lambda: every.supervising() == [])


# a pod lost with its node ---------------------------------------------------------------------
@dataclass
class NodePod:
    """A workspace pod on a cluster node: ``down`` says why it is lost (None while it stands);
    ``dies`` is a reason it is lost with at the next use of its containers, which fails as a
    dead node's engine does."""

    down: str | None = None
    dies: str | None = None
    used: int = 0
    asked: int = 0

    def lost(self) -> str | None:
        self.asked += 1
        return self.down

    def member(self, role: str) -> None:
        self.used += 1
        if self.dies is not None:
            self.down = self.dies
            raise SandboxError("cannot connect to the node's engine")


@dataclass
class OnePod:
    pod: NodePod

    def attach_pod(self, run_id: str, purpose: str) -> Pod | None:
        return cast(Pod, self.pod)


@pytest.fixture
def each_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """The supervisor asks whether the pod is lost at every pass."""
    monkeypatch.setattr(supervisor, "LOST_EVERY_S", 0.0)


def supervised(runner: Watched, store: Store, pod: NodePod) -> tuple[Run, RunSupervisor]:
    runner.backend = cast(NoPods, OnePod(pod))
    run = running(store)
    return run, RunSupervisor(cast(Supervised, runner), run.id)


@pytest.mark.usefixtures("each_pass")
def test_a_run_whose_node_goes_down_is_errored_with_the_reason_and_let_go(
    runner: Watched, store: Store
) -> None:
    pod = NodePod()
    run, one = supervised(runner, store, pod)
    assert one.step() is True
    pod.down = "node pp-cluster-node-3 of run x is down"
    assert one.step() is False
    errored = store.get(run.id)
    assert (errored.status, errored.error) == (Status.errored, pod.down)
    lost = [e.data for e in store.events(run.id) if e.kind == "pod.lost"]
    assert lost == [{"reason": pod.down}]
    assert runner.finished == []


def test_nothing_more_is_tried_on_a_lost_pod(runner: Watched, store: Store) -> None:
    pod = NodePod(down="node n3 is down")
    _, one = supervised(runner, store, pod)
    assert one.step() is False
    assert pod.used == 0


def test_a_failure_on_a_pod_whose_node_went_down_meanwhile_errors_the_run_at_once(
    runner: Watched, store: Store
) -> None:
    pod = NodePod()
    run, one = supervised(runner, store, pod)
    assert one.step() is True
    pod.dies = "node n3 is down"
    assert one.step() is False
    assert store.get(run.id).error == "node n3 is down"
    assert "supervisor.error" not in [e.kind for e in store.events(run.id)]


def test_a_run_submitted_before_its_pod_was_seen_lost_is_left_as_it_is(
    runner: Watched, store: Store
) -> None:
    pod = NodePod()
    run, one = supervised(runner, store, pod)
    store.transition(run.id, Status.submitted, submitted_at=utcnow())
    pod.down = "the owner task of run x is gone"
    assert one.lost(cast(Pod, pod)) is True
    assert store.get(run.id).status is Status.submitted
    assert "pod.lost" not in [e.kind for e in store.events(run.id)]


def test_a_pod_that_stands_is_supervised_as_before_and_asked_only_now_and_then(
    runner: Watched, store: Store
) -> None:
    pod = NodePod()
    run, one = supervised(runner, store, pod)
    assert [one.step() for _ in range(3)] == [True] * 3
    assert store.get(run.id).status is Status.running
    assert pod.asked == 1  # within LOST_EVERY_S: a cluster's manager is not asked each second


# one per data directory, and only while needed ----------------------------------------------
def test_it_holds_the_data_directory_lock_so_a_second_one_is_refused(
    every: AllSupervisor,
    runner: Watched,
    store: Store,
    settings: Settings,
    in_background: Callable[[], threading.Thread],
) -> None:
    running(store)
    in_background()
    lock = supervisor.lock_path(settings)
    wait_until(lambda: holder(lock) is not None)
    second = AllSupervisor(cast(Supervised, runner), lock)
    with pytest.raises(AlreadySupervised, match="already supervised"):
        second.run()
    assert supervisor.spawn(settings) == holder(lock)  # nothing new is started


def test_a_probe_of_the_lock_as_it_starts_does_not_turn_it_away(
    store: Store, settings: Settings, in_background: Callable[[], threading.Thread]
) -> None:
    running(store)
    lock = supervisor.lock_path(settings)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a+") as probe:  # what holder() takes for an instant
        fcntl.flock(probe, fcntl.LOCK_SH)
        in_background()
        time.sleep(0.1)
    wait_until(lambda: holder(lock) is not None)


def test_it_stops_once_no_interactive_run_has_been_running_for_a_while(
    every: AllSupervisor,
    store: Store,
    settings: Settings,
    in_background: Callable[[], threading.Thread],
) -> None:
    run = running(store)
    thread = in_background()
    wait_until(lambda: every.supervising() == [run.id])
    store.transition(run.id, Status.submitted)
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert holder(supervisor.lock_path(settings)) is None


def test_it_stays_while_a_run_is_running_even_one_it_does_not_supervise(
    store: Store, in_background: Callable[[], threading.Thread]
) -> None:
    running(store, wanted=False)
    thread = in_background()
    time.sleep(0.6)  # twice its idle time
    assert thread.is_alive()


# the outbox's due email ---------------------------------------------------------------------
@dataclass
class Mail:
    """An outbox: counts its deliveries; ``broken`` makes each raise; ``stuck`` holds each
    until set (a mail server that does not answer)."""

    calls: int = 0
    broken: bool = False
    stuck: threading.Event | None = None

    def deliver_due(self) -> None:
        self.calls += 1
        if self.stuck is not None:
            self.stuck.wait(10)
        if self.broken:
            raise ProdprovenError("the store is unreachable")


def test_it_sends_the_due_email_every_few_seconds_while_it_runs(
    every: AllSupervisor, store: Store, in_background: Callable[[], threading.Thread]
) -> None:
    mail = Mail()
    every.due, every.mail_every_s = [mail.deliver_due], 0.02
    run = running(store)
    thread = in_background()
    wait_until(lambda: mail.calls >= 3)
    store.transition(run.id, Status.submitted)
    thread.join(timeout=5)
    sent = mail.calls
    time.sleep(0.1)
    assert not thread.is_alive() and mail.calls == sent  # stops with the supervisor


def test_a_failure_to_send_email_is_logged_and_tried_again(
    every: AllSupervisor,
    store: Store,
    in_background: Callable[[], threading.Thread],
    caplog: pytest.LogCaptureFixture,
) -> None:
    mail = Mail(broken=True)
    every.due, every.mail_every_s = [mail.deliver_due], 0.02
    run = running(store)
    in_background()
    wait_until(lambda: mail.calls >= 2)
    wait_until(lambda: every.supervising() == [run.id])
    assert "due work Mail.deliver_due failed" in caplog.text


def test_a_mail_server_that_does_not_answer_delays_no_run(
    every: AllSupervisor,
    runner: Watched,
    store: Store,
    in_background: Callable[[], threading.Thread],
) -> None:
    stuck = threading.Event()
    mail = Mail(stuck=stuck)
    every.due, every.mail_every_s = [mail.deliver_due], 0.02
    run = running(store, in_s=0.3)
    in_background()
    try:
        wait_until(lambda: store.get(run.id).status is Status.submitted)
        assert runner.finished == [run.id] and mail.calls == 1
    finally:
        stuck.set()


def test_the_due_work_is_each_piece_in_turn_and_one_failing_stops_none(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken, fine = Mail(broken=True), Mail()
    loop = DueLoop([broken.deliver_due, fine.deliver_due], every_s=0.02)
    with loop.running():
        wait_until(lambda: broken.calls >= 2 and fine.calls >= 2)
    calls = fine.calls
    time.sleep(0.1)
    assert fine.calls == calls  # stops with the block
    assert "due work Mail.deliver_due failed" in caplog.text


def test_nobody_holds_a_lock_file_that_does_not_exist_or_was_let_go(tmp_path: Path) -> None:
    lock = tmp_path / "supervisor.lock"
    assert holder(lock) is None
    lock.write_text("12345")
    assert holder(lock) is None


# the prober's samples and the on-call alert -------------------------------------------------
PROBE = ProbeSpec.model_validate(
    {"canaries": "c.jsonl", "slo": {"latency_ms": 500, "stability_s": 5}}
)


@dataclass
class Probed(Provisioner):
    """A challenge with a probe and one canary that expects ``{"ok": true}``."""

    def challenge_of(self, run: Run) -> object:
        return SimpleNamespace(spec=SimpleNamespace(probe=PROBE))

    def canaries(self, challenge: object, variant: int | None) -> list[Canary]:
        return [Canary(body={}, expect={"ok": True})]


@dataclass
class Prober:
    """The prober's container: ``lines`` is what it printed so far."""

    lines: list[str] = field(default_factory=list)
    role: str = "prober"

    def answer(self, t: float, status: int) -> None:
        self.lines.append(
            json.dumps(
                {
                    "seq": int(t * 1000),
                    "t": t,
                    "canary": 0,
                    "status": status,
                    "latency_ms": 9.0,
                    "answer": {"ok": True},
                    "error": None,
                    "text": None,
                }
            )  # fmt: skip
        )

    def logs(self, tail: int = 200) -> str:
        return "\n".join(self.lines[-tail:])


@dataclass
class ProberPod:
    prober: Prober

    def member(self, role: str) -> Prober | None:
        return self.prober if role == self.prober.role else None


def test_each_poll_of_the_prober_stores_its_samples_then_checks_the_alert(
    runner: Watched, store: Store
) -> None:
    runner.provisioner = Probed()
    run = running(store)
    one = RunSupervisor(cast(Supervised, runner), run.id)
    prober = Prober()
    pod = cast(Pod, ProberPod(prober))
    for t in (1.0, 2.0):
        prober.answer(t, 200)
    assert one.poll_prober(pod) == 2
    assert [e.kind for e in store.events(run.id) if e.kind.startswith("alert.")] == []
    prober.answer(3.0, 503)
    assert one.poll_prober(pod) == 1
    [fired] = [e.data for e in store.events(run.id) if e.kind == "alert.fired"]
    assert (fired["at"], fired["id"]) == (3.0, "alert-1")
    assert fired["symptom"].endswith("Canary saw: HTTP 503 after 9 ms")
