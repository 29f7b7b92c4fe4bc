"""Admission to the machine's capacity, decided without containers: what a run reserves, who is
admitted and who queues, in which order, what a queued run's place is, the run too big for
the whole machine, cancelling a queued run, a queue whose first run nobody waits for any more,
and two admitters racing for the last room. The real thing, with Docker, is
tests/integration/test_admission.py."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import select

from prodproven.runner.config import Settings
from prodproven.runner.errors import ConfigError, RunStateError, SpecError
from prodproven.runner.lifecycle.admission import (
    QUEUE_LOST,
    RUNNER_RESERVE_BYTES,
    Admission,
    Capacity,
    OverCapacity,
    Place,
    capacity_of,
    cluster_reason,
    places,
)
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.lifecycle.need import GIB, Need, need_of
from prodproven.runner.lifecycle.pool import READY, PoolRow
from prodproven.runner.runs import prober
from prodproven.runner.runs.store import Run, Status, Store, utcnow
from prodproven.runner.spec.challenge import Catalog, load_challenge
from prodproven.sandbox.environment import Backend
from prodproven.sandbox.images import ImageBuilder
from tests.conftest import BUILTIN, MakeChallenge

ONE = Need(GIB, 1.0)


def created(store: Store, candidate: str = "ada") -> Run:
    return store.create_run(
        challenge_id="deploy-model",
        challenge_version="1.0.0",
        challenge_path="/c",
        candidate=candidate,
        mode="interactive",
    )


def admission(store: Store, gib: int = 2, cpus: float | None = None, **alive: bool) -> Admission:
    """Admission to ``gib`` GiB (and ``cpus``); every run's waiter is alive unless ``alive``
    says otherwise by run id."""
    return Admission(
        store, lambda: Capacity(gib * GIB, cpus), lambda run_id: alive.get(run_id, True)
    )


# what a run reserves --------------------------------------------------------------------------
def test_25_deploy_model_runs_are_admitted_on_a_24_gib_machine(catalog: Catalog) -> None:
    """The goal of issue 20: deploy-model declares what a working run holds, not its limit."""
    deploy = load_challenge(BUILTIN / "deploy-model", catalog)
    machine = Capacity(24 * GIB - RUNNER_RESERVE_BYTES, None)
    assert machine.fits(Need(need_of(deploy, catalog).memory_bytes * 25, 0.0))


def test_a_run_reserves_the_limits_of_every_container_its_pod_keeps(catalog: Catalog) -> None:
    fix_drift = load_challenge(BUILTIN / "fix-drift", catalog)
    assert need_of(fix_drift, catalog) == Need(2 * GIB + GIB, 2.0)  # workspace, mlflow
    incident = load_challenge(BUILTIN / "incident-response", catalog)
    live = 384 * 2**20
    assert need_of(incident, catalog) == Need(
        GIB + live + prober.LIMITS.memory_bytes, 1.0 + 1.0 + prober.LIMITS.cpus
    )


def test_a_declared_reservation_replaces_the_sum_of_limits(
    catalog: Catalog, make_challenge: MakeChallenge
) -> None:
    root = make_challenge(lambda spec: spec.update(reservation={"memory": "600m", "cpus": 0.25}))
    assert need_of(load_challenge(root, catalog), catalog) == Need(600 * 2**20, 0.25)


def test_a_reservation_is_a_size(catalog: Catalog, make_challenge: MakeChallenge) -> None:
    root = make_challenge(lambda spec: spec.update(reservation={"memory": "a bit"}))
    with pytest.raises(SpecError, match="reservation.memory.*not a size like 512m"):
        load_challenge(root, catalog)


# the capacity ---------------------------------------------------------------------------------
class Engine:
    def __init__(self, memory: int) -> None:
        self.memory = memory

    def info(self) -> dict[str, Any]:
        return {"MemTotal": self.memory, "NCPU": 2}


class EngineBackend:
    def __init__(self, memory: int) -> None:
        self.client = Engine(memory)
        self.removed: list[str] = []

    def remove_run(self, run_id: str, *, keep_volumes: bool = False) -> int:
        self.removed.append(run_id)
        return 0


def test_the_default_capacity_is_the_engines_memory_less_the_runners_reserve(
    tmp_path: Path,
) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path)
    backend = cast(Backend, EngineBackend(24 * GIB))
    assert capacity_of(settings, backend) == Capacity(22 * GIB, None)


def test_the_capacity_settings_replace_the_default(tmp_path: Path) -> None:
    environ = {"PRODPROVEN_CAPACITY_MEMORY": "20g", "PRODPROVEN_CAPACITY_CPUS": "6"}
    settings = Settings.from_env(environ, data_dir=tmp_path)
    assert capacity_of(settings, cast(Backend, EngineBackend(64 * GIB))) == Capacity(20 * GIB, 6.0)


def test_on_swarm_the_clusters_scheduler_holds_runs_back_unless_a_capacity_is_set(
    tmp_path: Path,
) -> None:
    runner_engine = cast(Backend, EngineBackend(4 * GIB))  # the runner's machine, not the nodes'
    swarm = Settings.from_env({"PRODPROVEN_BACKEND": "swarm"}, data_dir=tmp_path)
    assert capacity_of(swarm, runner_engine) == Capacity(None, None)
    assert Capacity(None, None).fits(Need(1000 * GIB, 64.0))
    declared = Settings.from_env(
        {"PRODPROVEN_BACKEND": "swarm", "PRODPROVEN_CAPACITY_MEMORY": "100g"}, data_dir=tmp_path
    )
    assert capacity_of(declared, runner_engine) == Capacity(100 * GIB, None)


def test_a_capacity_that_is_not_a_size_is_refused_naming_the_setting(tmp_path: Path) -> None:
    settings = Settings.from_env({"PRODPROVEN_CAPACITY_MEMORY": "lots"}, data_dir=tmp_path)
    with pytest.raises(ConfigError, match="PRODPROVEN_CAPACITY_MEMORY='lots'.*a size like 20g"):
        capacity_of(settings, cast(Backend, EngineBackend(GIB)))


# who is admitted, who queues, in which order --------------------------------------------------
def test_a_run_that_fits_is_admitted_with_its_reservation_recorded(store: Store) -> None:
    run = created(store)
    assert admission(store).ask(run.id, ONE) is None
    assert store.get(run.id).status is Status.provisioning
    admitted = [e.data for e in store.events(run.id) if e.kind == "admission.admitted"]
    assert admitted == [{"memory_bytes": GIB, "cpus": 1.0, "pooled": False}]


def test_a_run_that_does_not_fit_queues_and_is_told_its_place(store: Store) -> None:
    gate = admission(store)
    first, second, third = (created(store, name) for name in ("ada", "bob", "cy"))
    assert gate.ask(first.id, Need(2 * GIB, 1.0)) is None
    assert gate.ask(second.id, ONE) == Place(1, 1)
    assert gate.ask(third.id, ONE) == Place(2, 2)
    assert store.get(second.id).status is Status.queued
    assert places(store) == {second.id: Place(1, 2), third.id: Place(2, 2)}


def test_cpus_limit_admission_only_when_a_cpu_capacity_is_set(store: Store) -> None:
    unlimited, limited = admission(store, gib=100), admission(store, gib=100, cpus=1.5)
    assert unlimited.ask(created(store).id, Need(GIB, 8.0)) is None
    assert limited.ask(created(store).id, Need(GIB, 1.0)) == Place(1, 1)


def test_the_queue_is_served_in_order_when_room_frees_up(store: Store) -> None:
    gate = admission(store)
    holder = created(store)
    gate.ask(holder.id, Need(2 * GIB, 1.0))
    big, small = created(store, "big"), created(store, "small")
    gate.ask(big.id, Need(2 * GIB, 1.0))
    gate.ask(small.id, ONE)
    store.transition(holder.id, Status.running)
    assert gate.ask(small.id, ONE) == Place(2, 2)  # it would fit, but big is first
    store.transition(holder.id, Status.submitted)
    store.transition(holder.id, Status.grading)  # grading holds no pod of the run's own
    assert gate.ask(small.id, ONE) == Place(2, 2)
    assert gate.ask(big.id, Need(2 * GIB, 1.0)) is None
    assert places(store) == {small.id: Place(1, 1)}


def test_a_new_run_does_not_pass_the_queue_even_when_it_fits(store: Store) -> None:
    gate = admission(store, gib=3)
    gate.ask(created(store).id, Need(2 * GIB, 1.0))
    waiting = created(store, "bob")
    gate.ask(waiting.id, Need(2 * GIB, 1.0))
    newcomer = created(store, "cy")
    assert gate.ask(newcomer.id, ONE) == Place(2, 2)
    assert store.get(newcomer.id).status is Status.queued


def test_a_run_too_big_for_the_whole_capacity_is_refused_at_once(store: Store) -> None:
    run = created(store)
    with pytest.raises(
        OverCapacity, match=rf"run {run.id} of deploy-model needs 3.00 GiB.*2.00 GiB"
    ):
        admission(store).ask(run.id, Need(3 * GIB, 1.0))
    assert store.get(run.id).status is Status.created


def test_waiting_reports_each_new_place_and_returns_once_admitted(store: Store) -> None:
    gate = admission(store)
    holders = [created(store, name) for name in ("ada", "bob")]
    for holder in holders:
        gate.ask(holder.id, ONE)
    before = created(store, "cy")
    gate.ask(before.id, ONE)
    waiting = created(store, "dee")
    lines: list[str] = []
    polls: list[float] = []

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) == 2:
            store.transition(holders[0].id, Status.errored, error="gone")
            assert gate.ask(before.id, ONE) is None
        if len(polls) == 4:
            store.transition(holders[1].id, Status.errored, error="gone")

    gate.wait(waiting.id, ONE, lines.append, poll_s=0.5, sleep=sleep)
    assert lines == ["queued: position 2 of 2", "queued: position 1 of 1"]
    assert polls == [0.5] * 4
    assert store.get(waiting.id).status is Status.provisioning


# a run waiting for room in a cluster ----------------------------------------------------------
def in_the_cluster_queue(store: Store, gate: Admission, candidate: str, need: Need) -> Run:
    """A run admitted here whose pod the cluster left pending (``start.StartJob.waiting``)."""
    run = created(store, candidate)
    assert gate.ask(run.id, need) is None
    return store.transition(run.id, Status.queued, error="no suitable node")


def test_a_run_waiting_for_the_cluster_has_no_place_in_the_queue_and_holds_up_nobody(
    store: Store,
) -> None:
    gate = admission(store, gib=3)
    pending = in_the_cluster_queue(store, gate, "ada", ONE)
    assert places(store) == {}
    assert cluster_reason(pending) == "no suitable node"
    later = created(store, "bob")
    assert gate.ask(later.id, ONE) is None  # first in our queue, it is not passed by the pending
    queued = created(store, "cy")
    assert gate.ask(queued.id, Need(2 * GIB, 1.0)) == Place(1, 1)
    assert cluster_reason(store.get(queued.id)) is None


def test_a_run_waiting_for_the_cluster_keeps_its_reservation(store: Store) -> None:
    gate = admission(store, gib=2)
    in_the_cluster_queue(store, gate, "ada", ONE)
    assert gate.ask(created(store, "bob").id, Need(2 * GIB, 1.0)) == Place(1, 1)
    assert gate.ask(created(store, "cy").id, ONE) == Place(2, 2)


def test_a_run_waiting_for_the_cluster_is_never_errored_as_abandoned_by_admission(
    store: Store,
) -> None:
    """Recovery takes it up instead (tests/unit/test_recovery.py): its pod is the cluster's."""
    pending = in_the_cluster_queue(store, admission(store, gib=4), "ada", ONE)
    gate = admission(store, gib=4, **{pending.id: False})
    assert gate.ask(created(store, "bob").id, ONE) is None
    assert store.get(pending.id).status is Status.queued


# cancelling, abandoned runs -------------------------------------------------------------------
def test_a_queued_run_cancelled_leaves_the_queue_and_its_waiter_stops(store: Store) -> None:
    gate = admission(store)
    gate.ask(created(store).id, Need(2 * GIB, 1.0))
    run = created(store, "bob")
    gate.ask(run.id, ONE)
    cancelled = gate.withdraw(run.id, "the candidate withdrew")
    assert cancelled is not None and cancelled.status is Status.cancelled
    assert places(store) == {}
    with pytest.raises(
        RunStateError, match="cancelled while it was queued: the candidate withdrew"
    ):
        gate.ask(run.id, ONE)


def test_only_a_queued_run_is_withdrawn(store: Store) -> None:
    gate = admission(store)
    run = created(store)
    gate.ask(run.id, ONE)
    assert gate.withdraw(run.id, "no") is None
    assert store.get(run.id).status is Status.provisioning


def test_a_queued_run_nobody_waits_for_is_errored_instead_of_blocking_the_queue(
    store: Store,
) -> None:
    holder, dead, alive, asking = (created(store, n) for n in ("ada", "dead", "alive", "asking"))
    gate = admission(store, gib=1, **{dead.id: False})
    for run in (holder, dead, alive, asking):
        gate.ask(run.id, ONE)
    store.transition(holder.id, Status.errored, error="over")
    assert gate.ask(asking.id, ONE) == Place(2, 2)
    assert store.get(dead.id).status is Status.errored
    assert store.get(dead.id).error == QUEUE_LOST
    assert gate.ask(alive.id, ONE) is None


def test_two_admitters_never_both_take_the_last_room(tmp_path: Path) -> None:
    """Each thread has its own store (its own connections), as separate processes would."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    runs = [created(Store(url), f"c{i}") for i in range(8)]
    gates = [admission(Store(url), gib=3) for _ in runs]
    outcomes: dict[str, Place | None] = {}
    start = threading.Barrier(len(runs), timeout=30)

    def admit(gate: Admission, run: Run) -> None:
        start.wait()
        outcomes[run.id] = gate.ask(run.id, ONE)

    threads = [threading.Thread(target=admit, args=pair) for pair in zip(gates, runs, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    admitted = [run_id for run_id, place in outcomes.items() if place is None]
    assert len(admitted) == 3
    assert sorted(p.position for p in outcomes.values() if p is not None) == [1, 2, 3, 4, 5]


# through the runner ---------------------------------------------------------------------------
def real_runner(tmp_path: Path, store: Store, catalog: Catalog, memory: str) -> Runner:
    settings = Settings.from_env({"PRODPROVEN_CAPACITY_MEMORY": memory}, data_dir=tmp_path)
    backend = cast(Backend, EngineBackend(24 * GIB))
    return Runner(settings, store, backend, cast(ImageBuilder, None), catalog, {})


def test_a_start_too_big_for_the_machine_errors_its_run_saying_why(
    tmp_path: Path, store: Store, catalog: Catalog
) -> None:
    runner = real_runner(tmp_path, store, catalog, "512m")
    challenge = load_challenge(BUILTIN / "deploy-model", catalog)
    with pytest.raises(OverCapacity, match="needs 0.75 GiB.*capacity of 0.50 GiB"):
        runner.start(challenge, "ada")
    (run,) = store.list_runs()
    assert run.status is Status.errored and "PRODPROVEN_CAPACITY_MEMORY" in (run.error or "")


def test_the_runner_cancels_a_queued_run_its_waiting_thread_owns(
    tmp_path: Path, store: Store, catalog: Catalog
) -> None:
    runner = real_runner(tmp_path, store, catalog, "1g")
    run = created(store, "bob")
    holder = created(store, "ada")
    runner.admission.ask(holder.id, ONE)
    runner.admission.ask(run.id, ONE)
    outcome: list[Run] = []
    with runner.owning(run.id, "started"):  # as the start waiting for room owns its run
        thread = threading.Thread(
            target=lambda: outcome.append(runner.cancel(run.id, "the firm closed the role"))
        )
        thread.start()
        thread.join()
    assert [(r.status, r.error) for r in outcome] == [
        (Status.cancelled, "the firm closed the role")
    ]
    # A pod a cluster's scheduler left pending is removed, which ends its start's wait.
    assert cast(EngineBackend, runner.backend).removed == [run.id]


# warm pods hold room too -----------------------------------------------------------------------
def warm_pod(store: Store, gate: Admission, run_id: str = "warm1") -> bool:
    """Record a warm pod of one GiB the way the pool does; False when it had no room."""
    with store.session() as s:
        room = gate.room_for_pod(s, ONE)
        if room is None:
            return False
        s.add(
            PoolRow(
                run_id=run_id,
                challenge_id="deploy-model",
                challenge_version="1.0.0",
                image="img",
                state=READY,
                since=utcnow(),
                notes=[],
                memory_bytes=room[0],
                cpus=room[1],
            )
        )
    return True


def test_a_warm_pod_holds_room_like_a_run(store: Store) -> None:
    gate = admission(store)
    assert warm_pod(store, gate, "warm1") and warm_pod(store, gate, "warm2")
    assert not warm_pod(store, gate, "warm3")  # 2 GiB held by the two pods
    assert gate.ask(created(store).id, ONE) == Place(1, 1)


def test_no_warm_pod_is_made_while_a_run_queues(store: Store) -> None:
    gate = admission(store, gib=3)
    gate.ask(created(store, "ada").id, Need(2 * GIB, 1.0))
    gate.ask(created(store, "bob").id, Need(2 * GIB, 1.0))  # queues; 1 GiB is free
    assert not warm_pod(store, gate)


def test_a_start_on_a_warm_pod_takes_over_its_room_at_once(store: Store) -> None:
    gate = admission(store)
    assert warm_pod(store, gate, "warm1") and warm_pod(store, gate, "warm2")
    run = store.create_run(
        challenge_id="deploy-model",
        challenge_version="1.0.0",
        challenge_path="/c",
        candidate="ada",
        mode="interactive",
        run_id="warm1",
    )
    gate.admit_pooled(run.id, ONE)
    assert store.get(run.id).status is Status.provisioning
    with store.session() as s:
        assert [row.run_id for row in s.scalars(select(PoolRow))] == ["warm2"]
    assert gate.ask(created(store, "bob").id, ONE) == Place(1, 1)  # still 2 GiB held


def test_a_run_first_in_line_has_warm_pods_removed_until_it_fits(store: Store) -> None:
    gate = admission(store)
    assert warm_pod(store, gate, "warm1") and warm_pod(store, gate, "warm2")
    waiting = created(store)
    removed: list[str] = []

    def make_room() -> bool:
        with store.session() as s:
            row = s.scalars(select(PoolRow).order_by(PoolRow.run_id)).first()
            if row is None:
                return False
            removed.append(row.run_id)
            s.delete(row)
        return True

    def sleep(_seconds: float) -> None:
        pytest.fail("it waited although a warm pod could make room")

    gate.wait(waiting.id, ONE, lambda _: None, sleep=sleep, make_room=make_room)
    assert removed == ["warm1"] and store.get(waiting.id).status is Status.provisioning
