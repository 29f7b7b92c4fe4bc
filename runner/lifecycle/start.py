"""Starting a run, declared as a list of small steps run in order (like grading).

The run is created in the store and moved to ``provisioning`` before any step runs. Each step
takes the job and adds to it; each event is committed when the work it announces is done or
about to start, and the last step commits ``running`` with the deadline, so a run is never
``running`` before its workspace, services, prober and incident plan are in place.

The steps come in two parts. :data:`POD_STEPS` make a pod that holds nothing of a candidate or
a variant (images, the pod, the services booted empty, the workspace container with an empty
``/workspace``, JupyterLab): a warm pool (``pool.py``) runs them ahead of any start, for a run
id it picks. :data:`CLAIM_STEPS` bring in the variant's material and the candidate's run (the
setup seeding the services, the starter files, the live service, the prober, the incidents,
the clock). A cold start runs both (:data:`START_STEPS`).

The pod reserves what a run of its challenge holds (``need.py``, as admission reserves on
one machine). A backend that places pods on a cluster may leave it pending for want of room:
the run then waits in ``queued`` with the cluster's reason and goes back to ``provisioning``
once the pod is placed (:meth:`StartJob.waiting`, :func:`create_pod`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from prodproven.runner.errors import ProdprovenError, RunStateError
from prodproven.runner.grading.evaluation import candidate_container
from prodproven.runner.lifecycle.need import need
from prodproven.runner.runs import prober, schedule, services
from prodproven.runner.runs.lab import ensure_lab, lab_token
from prodproven.runner.runs.provisioning import Provisioner
from prodproven.runner.runs.store import Run, Status, Store, utcnow
from prodproven.runner.spec.challenge import Challenge
from prodproven.runner.spec.prepare import Material
from prodproven.sandbox import tarball
from prodproven.sandbox.environment import KEEPALIVE, Backend, Pod, Sandbox

Reporter = Callable[[str], None]
CLUSTER_WAIT = "cluster.waiting"
"""The event of a start whose pod the cluster left pending, with the cluster's ``reason``."""
EXTRA_TIME = "accommodation.granted"
"""The event granting a run extra time (an invitation's accommodation), written before its
clock opens: ``extra_s`` seconds added to the time limit, ``granted`` as the invitation put it
(e.g. "+25 %"). The clock opens with the last one."""


@dataclass(kw_only=True)
class PodJob:
    """Making a run's pod up to where a candidate's or a variant's material would enter.
    Events are kept in ``notes`` (a pooled pod has no run yet; ``StartJob`` stores them)."""

    run_id: str
    challenge: Challenge
    backend: Backend
    provisioner: Provisioner
    data_dir: Path
    report: Reporter
    interactive: bool = True
    image: str = ""
    plans: list[services.ServicePlan] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    pod: Pod | None = None
    workspace: Sandbox | None = None
    setup: Sandbox | None = None
    notes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def event(self, kind: str, data: dict[str, Any]) -> None:
        self.notes.append((kind, data))

    def waiting(self, reason: str) -> None:
        """The backend left the pod pending for want of room (``reason``)."""
        self.report(f"waiting for room in the cluster: {reason}")
        self.event(CLUSTER_WAIT, {"reason": reason})

    def placed(self, pod: Pod) -> None:
        """The pod is placed, after a wait or at once."""

    def the_pod(self) -> Pod:
        assert self.pod is not None, "the pod is created by an earlier step"
        return self.pod


@dataclass(kw_only=True)
class StartJob(PodJob):
    """Starting ``run``: its events go to the store."""

    run: Run
    store: Store
    run_id: str = field(init=False)
    interactive: bool = field(init=False)
    fault: str | None = None
    """Pins the fault of every incident (None: drawn from the variant seed)."""
    material: Material | None = None
    started: datetime | None = None

    def __post_init__(self) -> None:
        self.run_id = self.run.id
        self.interactive = self.run.mode == "interactive"

    def event(self, kind: str, data: dict[str, Any]) -> None:
        self.store.add_event(self.run.id, kind, data)

    def waiting(self, reason: str) -> None:
        """The run waits in ``queued``, the cluster's ``reason`` as its ``error`` (what the
        status and the candidate's page show in place of a position)."""
        super().waiting(reason)
        self.run = self.store.transition(self.run.id, Status.queued, error=reason)

    def placed(self, pod: Pod) -> None:
        """Back to ``provisioning`` after a wait. Raises RunStateError, the pod removed, when
        the run was cancelled while it waited."""
        if self.run.status is not Status.queued:
            return
        try:
            self.run = self.store.transition(self.run.id, Status.provisioning, error=None)
        except RunStateError:
            pod.remove()
            raise


def build_images(job: PodJob) -> None:
    """Find or build the challenge's and its services' images."""
    job.report(f"building images for {job.challenge.id}")
    job.image = job.provisioner.challenge_image(job.challenge)
    job.plans = job.provisioner.service_plans(job.challenge)
    job.env = job.provisioner.client_env(job.challenge)


def create_pod(job: PodJob) -> None:
    """The workspace pod, sized for the run (``need.py``, from the services planned);
    while the backend waits for room, the run is ``queued`` (:meth:`StartJob.waiting`)."""
    job.report("starting the workspace pod")
    pod = job.backend.create_pod(
        job.run_id,
        "workspace",
        hosts=[plan.name for plan in job.plans],
        size=need(job.challenge, [plan.kind for plan in job.plans]),
        on_wait=job.waiting,
    )
    job.pod = pod
    job.placed(pod)


def start_services(job: PodJob) -> None:
    """Start the challenge's services, empty; each answers its health check before the next
    step."""
    if not job.plans:
        return
    job.report(f"starting services: {', '.join(plan.name for plan in job.plans)}")
    for service in services.start_services(job.the_pod(), job.plans):
        job.event("service.started", {"name": service.name})


def start_setup(job: PodJob) -> None:
    """The setup script's container, importing what the script imports while the rest
    starts; its files enter at :func:`run_setup`."""
    if job.challenge.spec.setup is None:
        return
    job.setup = services.start_setup(job.the_pod(), job.challenge, job.image, job.env)


def await_setup_imports(job: PodJob) -> None:
    """A pod is ready once the setup container's imports are done (a pooled pod spares the
    start that wait)."""
    if job.setup is not None:
        services.await_setup_imports(job.setup, job.challenge)


def run_setup(job: StartJob) -> None:
    """Seed the services with the challenge's setup script, from its own container."""
    if job.setup is None:
        return
    assert job.material is not None
    job.report("running the challenge's setup script")
    output = services.run_setup(job.setup, job.challenge, job.material.setup)
    job.event("setup.finished", output)


def start_workspace(job: PodJob) -> None:
    """The candidate's container, with an empty /workspace."""
    limits = job.challenge.spec.resources.limits
    job.workspace = job.the_pod().add(
        candidate_container(
            "workspace", job.image, job.run_id, "workspace", limits, command=KEEPALIVE, env=job.env
        )
    )
    job.workspace.start()


def find_material(job: StartJob) -> None:
    """The variant's generated material (made once per variant and cached)."""
    job.material = job.provisioner.material(job.challenge, job.run.variant)


def copy_starter_files(job: StartJob) -> None:
    """The starter files into the running workspace's /workspace."""
    assert job.material is not None and job.workspace is not None
    job.workspace.put_archive("/workspace", tarball.directories(*job.material.workspace))


def start_live_service(job: StartJob) -> None:
    """The challenge's live service beside the workspace, sharing its /workspace."""
    live = job.challenge.live_service
    if live is None:
        return
    job.report("starting the live service")
    pod = job.the_pod()
    service = pod.add(
        candidate_container(
            services.LIVE_SERVICE_ROLE,
            job.image,
            job.run.id,
            "workspace",
            live.limits or job.challenge.spec.resources.limits,
            command=live.command,
            env=job.env,
            workspace_of="workspace",
        )
    )
    service.start()
    waited = pod.wait_http(live.port, live.health_path, timeout=live.startup_timeout_s)
    job.event("service.live", {"port": live.port, "ready_s": round(waited, 2)})


def start_prober(job: StartJob) -> None:
    """The SLO prober, sending the challenge's canaries to the live service."""
    probe, live = job.challenge.spec.probe, job.challenge.live_service
    if probe is None:
        return
    assert live is not None
    canaries = job.provisioner.canaries(job.challenge, job.run.variant)
    job.report("starting the SLO prober")
    grader_image = job.provisioner.images.grader()
    job.the_pod().add(prober.container_spec(grader_image, probe, live.port, canaries)).start()


def start_lab(job: PodJob) -> None:
    """Start JupyterLab in an interactive run's workspace, so it is ready when the candidate
    opens it. A failure is recorded, not fatal: the workspace still works from a shell, and
    opening the lab tries again (and raises)."""
    if not job.interactive:
        return
    assert job.workspace is not None
    job.report("starting JupyterLab in the workspace")
    token = lab_token(job.data_dir, job.run_id)
    try:
        status = ensure_lab(job.workspace, token, run_id=job.run_id)
    except ProdprovenError as exc:
        job.report(f"JupyterLab did not start: {exc}")
        job.event("lab.failed", {"message": str(exc)[-4000:]})
        return
    job.event("lab.started", {"ready_s": round(status.ready_s, 2), "kernel": status.kernel})


def declare_ports(job: StartJob) -> None:
    for port in job.challenge.spec.ports:
        job.event("port.declared", {"name": port.name, "port": port.port})


def plan_incidents(job: StartJob) -> None:
    """Draw the incidents (fault and time, from the variant seed) and log each plan."""
    job.started = utcnow()
    planned = schedule.plan(
        job.challenge,
        job.started,
        variant=job.run.variant,
        scripted=job.run.mode == "scripted",
        fault=job.fault,
    )
    for incident in planned:
        job.event("incident.planned", incident.as_data())


def open_clock(job: StartJob) -> None:
    """Commit ``running`` with the deadline: the time limit, plus the extra time granted
    (:data:`EXTRA_TIME`)."""
    assert job.started is not None
    limit = timedelta(minutes=job.challenge.spec.time_limit_minutes)
    extra = timedelta(minutes=granted_minutes(job.store, job.run.id) or 0)
    job.run = job.store.transition(job.run.id, Status.running, deadline=job.started + limit + extra)


def granted_minutes(store: Store, run_id: str) -> float | None:
    """The extra time granted to run ``run_id`` in minutes (:data:`EXTRA_TIME`); None when
    none was."""
    granted = [e.data for e in store.events(run_id) if e.kind == EXTRA_TIME]
    return round(float(granted[-1]["extra_s"]) / 60, 2) if granted else None


POD_AFTER_IMAGES: list[Callable[[PodJob], None]] = [
    create_pod,
    start_services,
    start_setup,
    start_workspace,
    start_lab,
    await_setup_imports,
]
POD_STEPS: list[Callable[[PodJob], None]] = [build_images, *POD_AFTER_IMAGES]
"""What a warm pool does ahead of any start: nothing here reads a variant or a candidate."""

SEED_STEPS: list[Callable[[StartJob], None]] = [
    run_setup,
    copy_starter_files,
    start_live_service,
    start_prober,
    declare_ports,
    plan_incidents,
    open_clock,
]
CLAIM_STEPS: list[Callable[[StartJob], None]] = [find_material, *SEED_STEPS]
"""What a start does in a pod made by :data:`POD_STEPS` (its own or a pooled one)."""

START_STEPS: list[Callable[[StartJob], None]] = [
    build_images,
    find_material,
    *POD_AFTER_IMAGES,
    *SEED_STEPS,
]
"""A cold start: the variant's material is made before the workspace pod, so that its prepare
pod is placed while the run holds no other: on a full cluster, runs each holding a workspace
pod while their prepare pods wait for room would wait for each other for ever."""

POOLED_STEPS: list[Callable[[StartJob], None]] = [build_images, *CLAIM_STEPS]
"""A start in a pooled pod: the images' names again (found, not built), then the claim's."""


def start_run(job: StartJob, steps: list[Callable[[StartJob], None]] = START_STEPS) -> Run:
    """Run ``steps`` (every step, or the claim's part in a pooled pod); returns the running
    run."""
    for step in steps:
        step(job)
    return job.run
