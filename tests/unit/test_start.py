"""Starting a run: the steps build, start and seed everything first, and only the last one
commits ``running``, with the deadline counted from when the incidents were planned. The pod
reserves what the run holds; while a cluster leaves it pending the run is ``queued``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from prodproven.runner.errors import RunStateError
from prodproven.runner.lifecycle.need import Need, need_of
from prodproven.runner.lifecycle.start import (
    CLAIM_STEPS,
    CLUSTER_WAIT,
    EXTRA_TIME,
    POD_STEPS,
    START_STEPS,
    PodJob,
    StartJob,
    build_images,
    create_pod,
    declare_ports,
    find_material,
    granted_minutes,
    open_clock,
    plan_incidents,
    start_services,
    start_workspace,
)
from prodproven.runner.runs.provisioning import Provisioner
from prodproven.runner.runs.services import ServicePlan
from prodproven.runner.runs.store import Run, Status, Store
from prodproven.runner.spec.challenge import Catalog, Challenge, load_challenge
from prodproven.sandbox.environment import Backend, Pod, PodSize
from tests.conftest import BUILTIN


def provisioning_run(store: Store, challenge: Challenge) -> Run:
    run = store.create_run(
        challenge_id=challenge.id,
        challenge_version=challenge.spec.version,
        challenge_path=str(challenge.root),
        candidate="ada",
        mode="scripted",
    )
    return store.transition(run.id, Status.provisioning)


@pytest.fixture
def job(store: Store, catalog: Catalog, tmp_path: Path) -> StartJob:
    """A start of deploy-model past its containers (the steps below touch only the store)."""
    challenge = load_challenge(BUILTIN / "deploy-model", catalog)
    return StartJob(
        run=provisioning_run(store, challenge),
        challenge=challenge,
        store=store,
        backend=cast(Backend, None),
        provisioner=cast(Provisioner, None),
        data_dir=tmp_path,
        report=lambda _line: None,
    )


def test_the_run_is_running_only_after_every_other_step() -> None:
    assert START_STEPS[0] is build_images
    assert START_STEPS[-1] is open_clock
    order: list[Callable[[StartJob], None]] = [create_pod, start_services, start_workspace]
    assert [START_STEPS.index(step) for step in order] == sorted(
        START_STEPS.index(step) for step in order
    )


def test_a_cold_start_makes_the_variants_material_before_it_holds_a_pod() -> None:
    # On a full cluster a run holding its workspace pod while its prepare pod waits for room
    # could wait for ever on runs doing the same.
    assert START_STEPS.index(find_material) < START_STEPS.index(create_pod)
    assert set(START_STEPS) == set(POD_STEPS) | set(CLAIM_STEPS)


def test_the_clock_opens_with_the_time_limit_from_the_incident_plan(job: StartJob) -> None:
    for step in (declare_ports, plan_incidents, open_clock):
        step(job)
    assert job.run.status is Status.running and job.started is not None
    limit = timedelta(minutes=job.challenge.spec.time_limit_minutes)
    assert job.run.deadline == job.started + limit


def test_the_clock_opens_with_the_extra_time_granted_to_the_run(job: StartJob) -> None:
    job.store.add_event(job.run.id, EXTRA_TIME, {"extra_s": 900.0, "granted": "+25 %"})
    for step in (declare_ports, plan_incidents, open_clock):
        step(job)
    assert job.started is not None and job.run.deadline is not None
    limit = timedelta(minutes=job.challenge.spec.time_limit_minutes)
    assert job.run.deadline == job.started + limit + timedelta(minutes=15)
    assert granted_minutes(job.store, job.run.id) == 15


def test_a_run_granted_nothing_has_no_extra_minutes(job: StartJob) -> None:
    assert granted_minutes(job.store, job.run.id) is None


def test_ports_are_declared_before_the_run_is_running(job: StartJob) -> None:
    for step in (declare_ports, plan_incidents, open_clock):
        step(job)
    kinds = [e.kind for e in job.store.events(job.run.id)]
    declared = [i for i, kind in enumerate(kinds) if kind == "port.declared"]
    assert declared == sorted(declared)
    assert all(i < kinds.index("status.running") for i in declared)
    assert len(declared) == len(job.challenge.spec.ports)


# the pod's size, and waiting for room in a cluster --------------------------------------------
@dataclass
class Placing:
    """A backend that places pods on a cluster: it reports ``waits`` (reasons) through
    ``on_wait`` before it returns the pod, and checks the run's status meanwhile."""

    store: Store
    waits: list[str] = field(default_factory=list)
    asked: list[tuple[str, PodSize | None]] = field(default_factory=list)
    seen: list[Status] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    then: Callable[[str], None] = lambda _run_id: None

    def create_pod(
        self,
        run_id: str,
        purpose: str,
        *,
        hosts: Sequence[str] = (),
        size: PodSize | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> Pod:
        self.asked.append((purpose, size))
        for reason in self.waits:
            assert on_wait is not None
            on_wait(reason)
            self.seen.append(self.store.get(run_id).status)
        self.then(run_id)
        return cast(Pod, SimpleNamespace(remove=lambda: self.removed.append(run_id)))


def placing_job(job: StartJob, backend: Placing) -> StartJob:
    job.backend = cast(Backend, backend)
    return job


def test_the_workspace_pod_reserves_what_admission_reserves_for_the_run(
    job: StartJob, store: Store, catalog: Catalog
) -> None:
    fix_drift = load_challenge(BUILTIN / "fix-drift", catalog)
    job.challenge = fix_drift
    job.plans = [ServicePlan(name, kind, "mlflow:1") for name, kind in fix_drift.services(catalog)]
    backend = Placing(store)
    create_pod(placing_job(job, backend))
    assert backend.asked == [("workspace", need_of(fix_drift, catalog))]
    assert need_of(fix_drift, catalog) == Need(3 * 2**30, 2.0)  # workspace and MLflow
    assert store.get(job.run.id).status is Status.provisioning


def test_a_run_whose_pod_the_cluster_leaves_pending_is_queued_with_the_reason_until_placed(
    job: StartJob, store: Store, catalog: Catalog
) -> None:
    reason = "no suitable node (insufficient resources on 3 nodes)"
    backend = Placing(store, waits=[reason])
    create_pod(placing_job(job, backend))
    assert backend.seen == [Status.queued]
    run = store.get(job.run.id)
    assert (run.status, run.error) == (Status.provisioning, None)
    assert job.run == run
    events = [(e.kind, e.data) for e in store.events(run.id)]
    assert (CLUSTER_WAIT, {"reason": reason}) in events
    moves = [e.data for e in store.events(run.id) if e.kind == "status.queued"]
    assert moves == [{"from": "provisioning", "error": reason}]
    assert job.pod is not None and backend.removed == []


def test_a_run_cancelled_while_the_cluster_kept_it_pending_gets_no_pod(
    job: StartJob, store: Store, catalog: Catalog
) -> None:
    def cancel(run_id: str) -> None:
        store.transition(run_id, Status.cancelled, error="withdrawn")

    backend = Placing(store, waits=["no suitable node"], then=cancel)
    with pytest.raises(RunStateError, match="is cancelled; it cannot become provisioning"):
        create_pod(placing_job(job, backend))
    assert backend.removed == [job.run.id]
    assert store.get(job.run.id).status is Status.cancelled


def test_a_warm_pod_waiting_for_the_cluster_notes_the_reason_for_the_run_that_claims_it(
    store: Store, catalog: Catalog, tmp_path: Path
) -> None:
    challenge = load_challenge(BUILTIN / "deploy-model", catalog)
    lines: list[str] = []
    pooled = PodJob(
        run_id="warm1",
        challenge=challenge,
        backend=cast(Backend, Placing(store)),
        provisioner=cast(Provisioner, None),
        data_dir=tmp_path,
        report=lines.append,
    )
    pooled.waiting("no suitable node")
    assert pooled.notes == [(CLUSTER_WAIT, {"reason": "no suitable node"})]
    assert lines == ["waiting for room in the cluster: no suitable node"]
