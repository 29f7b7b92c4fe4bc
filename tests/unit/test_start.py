"""Starting a run: the steps build, start and seed everything first, and only the last one
commits ``running``, with the deadline counted from when the incidents were planned."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import cast

import pytest

from prodproven.runner.lifecycle.start import (
    START_STEPS,
    StartJob,
    build_images,
    create_pod,
    declare_ports,
    open_clock,
    plan_incidents,
    start_services,
    start_workspace,
)
from prodproven.runner.runs.provisioning import Provisioner
from prodproven.runner.runs.store import Run, Status, Store
from prodproven.runner.spec.challenge import Catalog, Challenge, load_challenge
from prodproven.sandbox.environment import Backend
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


def test_the_clock_opens_with_the_time_limit_from_the_incident_plan(job: StartJob) -> None:
    for step in (declare_ports, plan_incidents, open_clock):
        step(job)
    assert job.run.status is Status.running and job.started is not None
    limit = timedelta(minutes=job.challenge.spec.time_limit_minutes)
    assert job.run.deadline == job.started + limit


def test_ports_are_declared_before_the_run_is_running(job: StartJob) -> None:
    for step in (declare_ports, plan_incidents, open_clock):
        step(job)
    kinds = [e.kind for e in job.store.events(job.run.id)]
    declared = [i for i, kind in enumerate(kinds) if kind == "port.declared"]
    assert declared == sorted(declared)
    assert all(i < kinds.index("status.running") for i in declared)
    assert len(declared) == len(job.challenge.spec.ports)
