"""The life of a run: created -> provisioning -> running -> submitted -> grading -> graded
(or errored, with the reason). Each status is committed to the store before the work it
announces is done, and the workspace archive is written and checksummed before anything else
happens at submit: a crash at any point leaves a run that can be submitted or re-graded.

:class:`Runner` is the one entry point. Starting and submitting are lists of steps
(``start.py``, ``submit.py``) and grading is a pipeline (``grading/pipeline.py``); what a run
is made of comes from :class:`Provisioner`, its files and workspace from :class:`Workspaces`,
the forwards into it from :class:`Forwards`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from functools import partial
from pathlib import Path
from typing import Any

from prodproven.graders.base import Grader
from prodproven.runner.config import Settings
from prodproven.runner.errors import ProdprovenError, RunNotFound, RunStateError
from prodproven.runner.grading.evaluation import CpuPlan, Evaluation, EvaluationPlan
from prodproven.runner.grading.pipeline import GradingJob, grade
from prodproven.runner.grading.slots import TimingSlots
from prodproven.runner.grading.uncertainty import load_regrading
from prodproven.runner.lifecycle.admission import Admission, capacity_of, places
from prodproven.runner.lifecycle.cancel import cancel_run, withdraw_queued
from prodproven.runner.lifecycle.need import need_of
from prodproven.runner.lifecycle.ownership import RunLocks
from prodproven.runner.lifecycle.pool import Claimed, Pool, spawn_fill
from prodproven.runner.lifecycle.recovery import Recovered, Recovery
from prodproven.runner.lifecycle.start import (
    POOLED_STEPS,
    START_STEPS,
    StartJob,
    granted_minutes,
    start_run,
)
from prodproven.runner.lifecycle.submit import SubmitJob, commit_submitted, submit_run
from prodproven.runner.lifecycle.supervisor import RunSupervisor
from prodproven.runner.lifecycle.views import VIEW_LOCK, Views
from prodproven.runner.runs.archives import DataDirFull
from prodproven.runner.runs.forwards import Forwards
from prodproven.runner.runs.lab import LabLink
from prodproven.runner.runs.provisioning import Provisioner
from prodproven.runner.runs.schedule import incident_log, incident_record
from prodproven.runner.runs.services import ServicePlan
from prodproven.runner.runs.store import (
    ALLOWED,
    Run,
    RunChanged,
    Status,
    Store,
    new_run_id,
    utcnow,
)
from prodproven.runner.runs.workspace import AUTOPILOT, RESPONDER, RunPaths, Workspaces
from prodproven.runner.spec.challenge import Catalog, Challenge, find_challenge
from prodproven.runner.spec.prepare import Material
from prodproven.sandbox.environment import Backend, ExecResult, Pod, PublishedPort, Sandbox
from prodproven.sandbox.images import ImageBuilder

OBSERVE_MARGIN_S = 10.0
"""Scripted incident runs watch the service for the SLO's stability window plus this long
after the responder finishes, so a fix has the time to prove itself."""


@contextmanager
def errors_recorded(store: Store, run_id: str, attempt: int | None = None) -> Iterator[None]:
    """Any failure moves the run to errored with the reason, then propagates; a full data
    directory leaves the run as it is, to be taken up again once there is room. With the
    grading ``attempt``, only while the run is still at it: a grader whose run was claimed
    again (RunChanged) leaves it to the new claimant."""
    try:
        yield
    except (DataDirFull, RunChanged):
        raise
    except BaseException as exc:
        reason = (
            str(exc) if isinstance(exc, ProdprovenError) else f"{exc.__class__.__name__}: {exc}"
        )
        if isinstance(exc, KeyboardInterrupt):
            reason = "interrupted"
        run = store.get(run_id)
        if Status.errored in ALLOWED[run.status]:
            with suppress(RunChanged):
                store.transition(run_id, Status.errored, attempt=attempt, error=reason)
        raise


class Runner:
    """Starts, submits and grades runs. ``catalog`` and ``graders`` are what the installed
    plugins provide (``plugins.catalog()``, ``plugins.graders()``); ``report`` receives one
    line per step for progress."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        backend: Backend,
        images: ImageBuilder,
        catalog: Catalog,
        graders: Mapping[str, type[Grader[Any]]],
        report: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.backend = backend
        self.images = images
        self.catalog = catalog
        self.graders = graders
        self.report = report
        self.provisioner = Provisioner(settings, backend, images, catalog, report)
        self.workspaces = Workspaces(settings.data_dir, store, backend, report)
        self.forwards = Forwards(settings.data_dir, store, self.provisioner, self.workspaces)
        self.locks = RunLocks(lambda run_id: self.paths(run_id).root)
        self.admission = Admission(
            store,
            lambda: capacity_of(settings, backend),
            alive=lambda run_id: not self.locks.free(run_id),
        )
        self.pool = Pool(
            settings,
            store,
            backend,
            self.provisioner,
            self.locks,
            lambda challenge_id: find_challenge(challenge_id, settings.challenge_dirs, catalog),
            report,
            room=lambda s, challenge: self.admission.room_for_pod(s, need_of(challenge, catalog)),
        )
        self.views = Views(
            store,
            backend,
            self.provisioner,
            RunLocks(lambda run_id: self.paths(run_id).root, VIEW_LOCK),
            settings.view_idle_s,
            reap_every_s=min(30.0, settings.view_idle_s / 4),
        )
        """This process's views of submitted runs' services (``views.Views``: ``touch``,
        ``close``, ``reap`` and ``kind``, of a service that can be opened)."""
        self.refill: Callable[[Settings, Challenge], int | None] = spawn_fill
        """Refills a challenge's warm pool after an interactive start (``pool.spawn_fill``)."""

    # what runs are made of, where they are -------------------------------------------------
    def challenge_image(self, challenge: Challenge) -> str:
        return self.provisioner.challenge_image(challenge)

    def service_plans(self, challenge: Challenge) -> list[ServicePlan]:
        return self.provisioner.service_plans(challenge)

    def material(self, challenge: Challenge, variant: int | None = None) -> Material:
        return self.provisioner.material(challenge, variant)

    def paths(self, run_id: str) -> RunPaths:
        return self.workspaces.paths(run_id)

    def event(self, run_id: str, kind: str, data: dict[str, Any]) -> None:
        self.store.add_event(run_id, kind, data)

    # a running run -------------------------------------------------------------------------
    def workspace(self, run_id: str) -> tuple[Pod, Sandbox]:
        return self.workspaces.workspace(run_id)

    def overlay(self, run_id: str, submission: Path) -> None:
        self.workspaces.overlay(run_id, submission)

    def autopilot(self, run_id: str, script: str = AUTOPILOT) -> ExecResult | None:
        return self.workspaces.autopilot(run_id, script)

    def forward(self, run_id: str, name: str) -> PublishedPort:
        return self.forwards.forward(run_id, name)

    def lab(self, run_id: str) -> LabLink:
        return self.forwards.lab(run_id)

    def view_service(self, run_id: str, name: str) -> PublishedPort:
        """Service ``name`` of a submitted run restored from its archive in the run's view
        pod and published on 127.0.0.1, opened or reused (``views.Views.open``, which lists
        what it raises); closed after ``view_idle_s`` unused."""
        return self.views.open(run_id, name)

    # start, submit, grade ------------------------------------------------------------------
    def start(
        self,
        challenge: Challenge,
        candidate: str,
        mode: str = "interactive",
        variant: int | None = None,
        fault: str | None = None,
        on_created: Callable[[Run], None] = lambda _: None,
        run_id: str | None = None,
    ) -> Run:
        """Create a run and bring its workspace up with the starter files, its services
        started and seeded, its live service and prober running, its incidents planned
        (``start.START_STEPS``). ``variant`` is the seed for the challenge's generated
        material and incident draw (None: the challenge's default); ``fault`` pins the fault
        of every incident; ``on_created`` is told the run as soon as it is stored, before
        provisioning; ``run_id`` when the caller picked it (and owns it already). A run
        that does not fit the capacity left waits in ``queued``, its place reported
        (``admission.Admission``); one that needs more than the whole capacity raises
        OverCapacity. An interactive start without ``run_id``, while nobody queues, takes a
        warm pod when the challenge's pool has one (``pool.Pool``: the run gets the pod's run
        id and its room) and refills the pool; a queued run first in line removes warm pods
        to make room."""
        warm = run_id is None and mode == "interactive" and not places(self.store)
        pooled = self.pool.claim(challenge) if warm else None
        run_id = run_id or (pooled.run_id if pooled is not None else new_run_id())
        try:
            return self._create(
                run_id, challenge, candidate, mode, variant, fault, on_created, pooled
            )
        finally:
            if mode == "interactive":  # after the start, so it takes no CPU from it
                self.refill(self.settings, challenge)

    def _create(
        self,
        run_id: str,
        challenge: Challenge,
        candidate: str,
        mode: str,
        variant: int | None,
        fault: str | None,
        on_created: Callable[[Run], None],
        pooled: Claimed | None,
    ) -> Run:
        with self.owning(run_id, "started"):
            run = self.store.create_run(
                challenge_id=challenge.id,
                challenge_version=challenge.spec.version,
                challenge_path=str(challenge.root),
                candidate=candidate,
                mode=mode,
                variant=variant,
                run_id=run_id,
            )
            on_created(run)
            return self._provision(run, challenge, fault, pooled)

    def _provision(
        self, run: Run, challenge: Challenge, fault: str | None, pooled: Claimed | None = None
    ) -> Run:
        """Wait in ``queued`` until the run is admitted (``provisioning``), then provision."""
        with errors_recorded(self.store, run.id):
            need = need_of(challenge, self.catalog)
            if pooled is None:
                self.admission.wait(run.id, need, self.report, make_room=self.pool.yield_one)
            else:
                self.admission.admit_pooled(run.id, need)
            job = StartJob(
                run=self.store.get(run.id),
                challenge=challenge,
                store=self.store,
                backend=self.backend,
                provisioner=self.provisioner,
                data_dir=self.settings.data_dir,
                report=self.report,
                fault=fault,
            )
            if pooled is None:
                return start_run(job, START_STEPS)
            pooled.adopt(job)
            return start_run(job, POOLED_STEPS)

    def submit(self, run_id: str) -> Run:
        """Freeze and archive the workspace and the services' data (fsync'd, checksummed),
        then tear the pod down (``submit.SUBMIT_STEPS``). A submit interrupted before its
        archives were recorded can be run again. Raises RunBusy when another process owns
        the run."""
        with self.owning(run_id, "submitted"):
            return self._submit(run_id)

    def _submit(self, run_id: str) -> Run:
        submission = commit_submitted(self.store, run_id)
        with errors_recorded(self.store, run_id):
            job = SubmitJob(
                submission=submission,
                challenge=self.provisioner.challenge_of(submission.run),
                store=self.store,
                backend=self.backend,
                provisioner=self.provisioner,
                forwards=self.forwards,
                paths=self.paths(run_id),
                max_bytes=self.settings.max_archive_mb * 2**20,
                timeline_cap_bytes=self.settings.timeline_cap_mb * 2**20,
                report=self.report,
            )
            return submit_run(job)

    def grade(self, run_id: str) -> Run:
        """Grade (or re-grade) a submitted run from its archive. Raises RunBusy when another
        process owns the run."""
        with self.owning(run_id, "graded"):
            return self._grade(run_id)

    def finish(self, run_id: str) -> Run:
        """Submit a running run (or take up its interrupted submit) and grade it, owning the
        run throughout, so nobody else grades it in between. Raises RunStateError for a run
        past submitted (it is graded, errored or cancelled already), RunBusy."""
        with self.owning(run_id, "submitted"):
            run = self.store.get(run_id)
            if run.status is Status.running or (
                run.status is Status.submitted and run.archive_path is None
            ):
                self.submit(run_id)
            elif run.status is not Status.submitted:
                raise RunStateError(f"run {run_id} is {run.status.value}; only running runs submit")
            return self.grade(run_id)

    def cancel(self, run_id: str, reason: str) -> Run:
        """End a run on purpose: archive what its workspace holds (best effort), remove its
        containers, record ``cancelled`` with ``reason`` (a queued run is taken out of the
        queue, its waiting process told). Raises RunStateError for a run that is graded,
        errored or cancelled, RunBusy when another process owns it."""
        withdrawn = withdraw_queued(self.admission, run_id, reason)
        if withdrawn is not None:
            # Queued by a cluster's scheduler, it has a pending pod: removing it ends the wait.
            self.backend.remove_run(run_id)
            return withdrawn
        with self.owning(run_id, "cancelled"):
            return cancel_run(self, run_id, reason)

    def recover(self, run_id: str | None = None) -> list[Recovered]:
        """Take up every run (or just ``run_id``) left mid-transition by a process that
        stopped (``recovery.Recovery``); one line per run it looked at."""
        return Recovery(self).all() if run_id is None else [Recovery(self).one(run_id)]

    @contextmanager
    def owning(self, run_id: str, doing: str) -> Iterator[None]:
        """Own ``run_id`` (``ownership.RunLocks``) while the block runs; nests."""
        with self.locks.hold(run_id, doing):
            yield

    def _grade(self, run_id: str) -> Run:
        run = self.store.get(run_id)
        if run.archive_path is None or run.status not in (
            Status.submitted,
            Status.grading,
            Status.graded,
            Status.errored,
        ):
            raise RunStateError(
                f"run {run_id} is {run.status.value} without an archive; submit it first"
            )
        run = self.store.claim_grading(run_id)
        attempt = run.grading_attempts
        with errors_recorded(self.store, run_id, attempt):
            challenge = self.provisioner.challenge_of(run)
            plan = self._evaluation_plan(run, challenge, attempt)
            job = GradingJob(
                run=run,
                challenge=challenge,
                plan=plan,
                evaluation=Evaluation(self.backend, plan, self.store),
                graders=dict(self.graders),
                report=self.report,
                event=partial(self.store.add_event, run_id),
                regrading=load_regrading(
                    self.settings.data_dir, challenge.id, challenge.spec.version
                ),
                timing=TimingSlots.of(self.settings),
                extra_minutes=granted_minutes(self.store, run_id),
            )
            document = grade(job)
            return self.store.transition(
                run_id,
                Status.graded,
                attempt=attempt,
                score=document.score,
                result=document.stored(),
                graded_at=utcnow(),
            )

    def _evaluation_plan(self, run: Run, challenge: Challenge, attempt: int) -> EvaluationPlan:
        self.report("building images")
        found = self.provisioner.material(challenge, run.variant)
        return EvaluationPlan(
            run_id=run.id,
            attempt=attempt,
            challenge=challenge,
            challenge_image=self.provisioner.challenge_image(challenge),
            grader_image=self.images.grader(),
            archive=Path(run.archive_path or ""),
            services=self.provisioner.service_plans(challenge),
            service_archives=dict(run.service_archives or {}),
            client_env=self.provisioner.client_env(challenge),
            hidden_roots=found.hidden,
            artifacts_dir=self.paths(run.id).artifacts,
            cpus=CpuPlan.for_cores(_engine_cores(self.backend), self.settings.cpu_pinning),
            incident=incident_record(self.store, run.id, challenge),
        )

    # the whole non-interactive run ---------------------------------------------------------
    def run_scripted(
        self,
        challenge: Challenge,
        submission: Path | None,
        candidate: str,
        variant: int | None = None,
        fault: str | None = None,
    ) -> Run:
        """Start, overlay the submission and run its ``.autopilot/run.sh``; for challenges
        with incidents, supervise the run, run ``.autopilot/respond.sh`` right after each
        injection and watch the service until a fix could prove stable; then submit and
        grade."""
        run_id = new_run_id()
        with self.owning(run_id, "run"):
            run = self.start(
                challenge, candidate, mode="scripted", variant=variant, fault=fault, run_id=run_id
            )
            with errors_recorded(self.store, run.id):
                if submission is not None:
                    self.overlay(run.id, submission)
                    self.autopilot(run.id)
                if challenge.spec.probe is not None:
                    with RunSupervisor(self, run.id).background() as supervisor:
                        self._respond_to_incidents(run.id, challenge, supervisor, submission)
            return self.finish(run.id)

    def _respond_to_incidents(
        self,
        run_id: str,
        challenge: Challenge,
        supervisor: RunSupervisor,
        submission: Path | None,
    ) -> None:
        probe = challenge.spec.probe
        assert probe is not None
        for planned in incident_log(self.store, run_id).planned():
            self.report(f"waiting for the scheduled incident {planned.event!r}")
            due_in = max(0.0, (planned.at - utcnow()).total_seconds())
            outcome = supervisor.wait_outcome(planned.event, timeout=due_in + 120)
            if outcome is None:
                raise ProdprovenError(f"the incident {planned.event!r} of run {run_id} never fired")
            if outcome == "incident.injected" and submission is not None:
                self.autopilot(run_id, RESPONDER)
        observe = probe.slo.stability_s + OBSERVE_MARGIN_S
        self.report(f"watching the service for {observe:.0f} s")
        time.sleep(observe)

    # housekeeping ----------------------------------------------------------------------------
    def gc(self) -> dict[str, int]:
        """Remove the containers and volumes of runs that are over, unknown to the store (a
        crashed ``challenge validate``'s material pods), or left mid-transition by a process
        that stopped (nobody owns them: ``recover`` errors or resumes those runs). A running
        run keeps its workspace; a run some process is acting on keeps everything but a
        leftover view pod; a run with a view open (here or in another process) keeps
        everything. Warm pods stay unless stale (``pool.Pool.sweep``)."""
        removed = self.pool.sweep()
        leftovers = self.backend.run_ids_with_leftovers()
        for run_id in sorted(leftovers - self.pool.pooled_ids()):  # read after: rows come first
            try:
                status: Status | None = self.store.get(run_id).status
            except RunNotFound:
                removed[run_id] = self.backend.remove_run(run_id)
                continue
            with self.views.shut(run_id) as shut:
                if not shut:
                    continue  # a view of it is open: everything stays until it closes
                if status is Status.running or not self.locks.free(run_id):
                    if count := self.views.remove_leftover(run_id):
                        removed[run_id] = count
                    continue
                removed[run_id] = self.backend.remove_run(run_id)
        return removed


def _engine_cores(backend: Backend) -> int:
    """How many cores the engine has (the host's, for a backend without a Docker client)."""
    client = getattr(backend, "client", None)
    return int(client.info().get("NCPU", 1)) if client is not None else (os.cpu_count() or 1)
