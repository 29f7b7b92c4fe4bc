"""Starting a run, declared as a list of small steps run in order (like grading).

The run is created in the store and moved to ``provisioning`` before any step runs. Each step
takes the job and adds to it; each event is committed when the work it announces is done or
about to start, and the last step commits ``running`` with the deadline, so a run is never
``running`` before its workspace, services, prober and incident plan are in place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from prodproven.runner.errors import ProdprovenError
from prodproven.runner.grading.evaluation import candidate_container
from prodproven.runner.runs import prober, schedule, services
from prodproven.runner.runs.lab import ensure_lab, lab_token
from prodproven.runner.runs.provisioning import Provisioner
from prodproven.runner.runs.store import Run, Status, Store, utcnow
from prodproven.runner.spec.challenge import Challenge
from prodproven.runner.spec.prepare import Material
from prodproven.sandbox import tarball
from prodproven.sandbox.environment import KEEPALIVE, Backend, Pod, Sandbox

Reporter = Callable[[str], None]


@dataclass
class StartJob:
    run: Run
    challenge: Challenge
    store: Store
    backend: Backend
    provisioner: Provisioner
    data_dir: Path
    report: Reporter
    fault: str | None = None
    """Pins the fault of every incident (None: drawn from the variant seed)."""
    image: str = ""
    material: Material | None = None
    plans: list[services.ServicePlan] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    pod: Pod | None = None
    workspace: Sandbox | None = None
    started: datetime | None = None

    def event(self, kind: str, data: dict[str, Any]) -> None:
        self.store.add_event(self.run.id, kind, data)

    def the_pod(self) -> Pod:
        assert self.pod is not None, "the pod is created by an earlier step"
        return self.pod


def build_images(job: StartJob) -> None:
    """Find or build the challenge's and its services' images and its generated material."""
    job.report(f"building images for {job.challenge.id}")
    job.image = job.provisioner.challenge_image(job.challenge)
    job.material = job.provisioner.material(job.challenge, job.run.variant)
    job.plans = job.provisioner.service_plans(job.challenge)
    job.env = job.provisioner.client_env(job.challenge)


def create_pod(job: StartJob) -> None:
    job.report("starting the workspace pod")
    hosts = [plan.name for plan in job.plans]
    job.pod = job.backend.create_pod(job.run.id, "workspace", hosts=hosts)


def start_services(job: StartJob) -> None:
    """Start the challenge's services; each answers its health check before the next step."""
    if not job.plans:
        return
    job.report(f"starting services: {', '.join(plan.name for plan in job.plans)}")
    for service in services.start_services(job.the_pod(), job.plans):
        job.event("service.started", {"name": service.name})


def run_setup(job: StartJob) -> None:
    """Seed the services with the challenge's setup script, from its own container."""
    if job.challenge.spec.setup is None:
        return
    assert job.material is not None
    job.report("running the challenge's setup script")
    output = services.run_setup(
        job.the_pod(), job.challenge, job.image, job.material.setup, job.env
    )
    job.event("setup.finished", output)


def start_workspace(job: StartJob) -> None:
    """The candidate's container, with the starter files in /workspace."""
    assert job.material is not None
    limits = job.challenge.spec.resources.limits
    job.workspace = job.the_pod().add(
        candidate_container(
            "workspace", job.image, job.run.id, "workspace", limits, command=KEEPALIVE, env=job.env
        )
    )
    job.workspace.put_archive("/workspace", tarball.directories(*job.material.workspace))
    job.workspace.start()


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


def start_lab(job: StartJob) -> None:
    """Start JupyterLab in an interactive run's workspace, so it is ready when the candidate
    opens it. A failure is recorded, not fatal: the workspace still works from a shell, and
    opening the lab tries again (and raises)."""
    if job.run.mode != "interactive":
        return
    assert job.workspace is not None
    job.report("starting JupyterLab in the workspace")
    token = lab_token(job.data_dir, job.run.id)
    try:
        status = ensure_lab(job.workspace, token, run_id=job.run.id)
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
    """Commit ``running`` with the deadline."""
    assert job.started is not None
    deadline = job.started + timedelta(minutes=job.challenge.spec.time_limit_minutes)
    job.run = job.store.transition(job.run.id, Status.running, deadline=deadline)


START_STEPS: list[Callable[[StartJob], None]] = [
    build_images,
    create_pod,
    start_services,
    run_setup,
    start_workspace,
    start_live_service,
    start_prober,
    start_lab,
    declare_ports,
    plan_incidents,
    open_clock,
]


def start_run(job: StartJob) -> Run:
    """Run every step; returns the running run."""
    for step in START_STEPS:
        step(job)
    return job.run
