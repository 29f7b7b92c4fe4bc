"""The life of a run: created -> provisioning -> running -> submitted -> grading -> graded
(or errored, with the reason). Each status is committed to the store before the work it
announces is done, and the workspace archive is written and checksummed before anything else
happens at submit: a crash at any point leaves a run that can be submitted or re-graded."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from prodproven.graders.slo import IncidentRecord
from prodproven.runner import plugins
from prodproven.runner.config import Settings
from prodproven.runner.errors import ProdprovenError, RunStateError
from prodproven.runner.grading.evaluation import (
    CpuPlan,
    Evaluation,
    EvaluationPlan,
    candidate_container,
)
from prodproven.runner.grading.pipeline import GradingJob, grade
from prodproven.runner.grading.uncertainty import load_regrading
from prodproven.runner.runs import prober, schedule, services
from prodproven.runner.runs.archives import write_archive
from prodproven.runner.runs.lab import (
    LAB_BASE_URL,
    LAB_PORT,
    LabLink,
    ensure_lab,
    lab_token,
    lab_url,
)
from prodproven.runner.runs.store import ALLOWED, Run, Status, Store, utcnow
from prodproven.runner.runs.supervisor import LIVE_SERVICE_ROLE, RunSupervisor
from prodproven.runner.spec.challenge import Catalog, Challenge, load_challenge
from prodproven.runner.spec.prepare import Material, material
from prodproven.sandbox import tarball
from prodproven.sandbox.environment import (
    KEEPALIVE,
    Backend,
    ExecResult,
    Pod,
    PublishedPort,
    Sandbox,
)
from prodproven.sandbox.errors import ContainerError, ExecTimeout
from prodproven.sandbox.images import ImageBuilder

AUTOPILOT = ".autopilot/run.sh"
RESPONDER = ".autopilot/respond.sh"
OBSERVE_MARGIN_S = 10.0
"""Scripted incident runs watch the service for the SLO's stability window plus this long
after the responder finishes, so a fix has the time to prove itself."""


@dataclass(frozen=True)
class RunPaths:
    root: Path

    @property
    def archive(self) -> Path:
        return self.root / "workspace.tar"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def services(self) -> Path:
        return self.root / "services"


class Runner:
    """Starts, submits and grades runs. ``report`` receives one line per step for progress."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        backend: Backend,
        images: ImageBuilder,
        report: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.backend = backend
        self.images = images
        self.report = report
        self.catalog: Catalog = plugins.catalog()
        self._materials: dict[tuple[Path, str, int | None], Material] = {}
        self._published: dict[tuple[str, int], tuple[Pod, PublishedPort]] = {}
        self._published_lock = threading.Lock()

    # paths and lookups ---------------------------------------------------------------------
    def paths(self, run_id: str) -> RunPaths:
        return RunPaths(self.settings.data_dir / "runs" / run_id)

    def challenge_of(self, run: Run) -> Challenge:
        return load_challenge(Path(run.challenge_path), self.catalog)

    def challenge_image(self, challenge: Challenge) -> str:
        """The challenge's image, built on the workspace-tools layer (JupyterLab in /opt/lab)."""
        return self.images.recipe(
            f"challenge-{challenge.id}",
            challenge.path(challenge.spec.image.recipe),
            parent=self.images.lab(),
        )

    def service_plans(self, challenge: Challenge) -> list[services.ServicePlan]:
        return [
            services.ServicePlan(name, kind, self.images.recipe(kind.kind, kind.recipe))
            for name, kind in challenge.services(self.catalog)
        ]

    def material(self, challenge: Challenge, variant: int | None = None) -> Material:
        key = (challenge.root, challenge.spec.version, variant)
        if key not in self._materials:
            image = self.challenge_image(challenge)
            self.report(f"preparing generated material for {challenge.id}")
            self._materials[key] = material(
                challenge, image, self.backend, self.settings.data_dir / "generated", variant
            )
        return self._materials[key]

    def event(self, run_id: str, kind: str, data: dict[str, Any]) -> None:
        self.store.add_event(run_id, kind, data)

    @contextmanager
    def _errors_recorded(self, run_id: str) -> Iterator[None]:
        """Any failure moves the run to errored with the reason, then propagates."""
        try:
            yield
        except BaseException as exc:
            reason = (
                str(exc) if isinstance(exc, ProdprovenError) else f"{exc.__class__.__name__}: {exc}"
            )
            if isinstance(exc, KeyboardInterrupt):
                reason = "interrupted"
            run = self.store.get(run_id)
            if Status.errored in ALLOWED[run.status]:
                self.store.transition(run_id, Status.errored, error=reason)
            raise

    # start -----------------------------------------------------------------------------------
    def start(
        self,
        challenge: Challenge,
        candidate: str,
        mode: str = "interactive",
        variant: int | None = None,
        fault: str | None = None,
        on_created: Callable[[Run], None] = lambda _: None,
    ) -> Run:
        """Create a run and bring its workspace up with the starter files, its services
        started and seeded, its live service and prober running, its incidents planned.
        ``variant`` is the seed for the challenge's generated material and incident draw
        (None: the challenge's default); ``fault`` pins the fault of every incident;
        ``on_created`` is told the run as soon as it is stored, before provisioning."""
        run = self.store.create_run(
            challenge_id=challenge.id,
            challenge_version=challenge.spec.version,
            challenge_path=str(challenge.root),
            candidate=candidate,
            mode=mode,
            variant=variant,
        )
        on_created(run)
        self.store.transition(run.id, Status.provisioning)
        with self._errors_recorded(run.id):
            self.report(f"building images for {challenge.id}")
            image = self.challenge_image(challenge)
            found = self.material(challenge, variant)
            plans = self.service_plans(challenge)
            names = [plan.name for plan in plans]
            self.report("starting the workspace pod")
            pod = self.backend.create_pod(run.id, "workspace", hosts=names)
            env = services.client_env(challenge, self.catalog)
            if plans:
                self.report(f"starting services: {', '.join(names)}")
                for service in services.start_services(pod, plans):
                    self.event(run.id, "service.started", {"name": service.name})
            if challenge.spec.setup is not None:
                self.report("running the challenge's setup script")
                output = services.run_setup(pod, challenge, image, found.setup, env)
                self.event(run.id, "setup.finished", output)
            limits = challenge.spec.resources.limits
            workspace = pod.add(
                candidate_container(
                    "workspace", image, run.id, "workspace", limits, command=KEEPALIVE, env=env
                )
            )
            workspace.put_archive("/workspace", tarball.directories(*found.workspace))
            workspace.start()
            self._start_live_service(run.id, challenge, pod, image, env)
            if challenge.spec.probe is not None:
                self._start_prober(challenge, pod, variant)
            if mode == "interactive":
                self._start_lab(run.id, workspace)
            for port in challenge.spec.ports:
                self.event(run.id, "port.declared", {"name": port.name, "port": port.port})
            started = utcnow()
            planned = schedule.plan(
                challenge, started, variant=variant, scripted=mode == "scripted", fault=fault
            )
            for incident in planned:
                self.event(run.id, "incident.planned", incident.as_data())
            deadline = started + timedelta(minutes=challenge.spec.time_limit_minutes)
            return self.store.transition(run.id, Status.running, deadline=deadline)

    def _start_live_service(
        self, run_id: str, challenge: Challenge, pod: Pod, image: str, env: dict[str, str]
    ) -> None:
        live = challenge.live_service
        if live is None:
            return
        self.report("starting the live service")
        service = pod.add(
            candidate_container(
                LIVE_SERVICE_ROLE,
                image,
                run_id,
                "workspace",
                live.limits or challenge.spec.resources.limits,
                command=live.command,
                env=env,
                workspace_of="workspace",
            )
        )
        service.start()
        waited = pod.wait_http(live.port, live.health_path, timeout=live.startup_timeout_s)
        self.event(run_id, "service.live", {"port": live.port, "ready_s": round(waited, 2)})

    def _start_lab(self, run_id: str, workspace: Sandbox) -> None:
        """Start JupyterLab in an interactive run's workspace, so it is ready when the
        candidate opens it. A failure is recorded, not fatal: the workspace still works from
        a shell, and :meth:`lab` tries again (and raises) when the lab is opened."""
        self.report("starting JupyterLab in the workspace")
        try:
            status = ensure_lab(workspace, lab_token(self.settings.data_dir, run_id), run_id=run_id)
        except ProdprovenError as exc:
            self.report(f"JupyterLab did not start: {exc}")
            self.event(run_id, "lab.failed", {"message": str(exc)[-4000:]})
            return
        self.event(
            run_id, "lab.started", {"ready_s": round(status.ready_s, 2), "kernel": status.kernel}
        )

    def _start_prober(self, challenge: Challenge, pod: Pod, variant: int | None) -> None:
        probe, live = challenge.spec.probe, challenge.live_service
        assert probe is not None and live is not None
        canaries = self.canaries(challenge, variant)
        self.report("starting the SLO prober")
        pod.add(prober.container_spec(self.images.grader(), probe, live.port, canaries)).start()

    def canaries(self, challenge: Challenge, variant: int | None) -> list[prober.Canary]:
        """The probe's canaries from the challenge's hidden material. Raises ProdprovenError
        when the file is missing, ProbeSetupError when it is malformed."""
        probe = challenge.spec.probe
        assert probe is not None
        path = self.material(challenge, variant).hidden_file(probe.canaries)
        if path is None:
            raise ProdprovenError(
                f"challenge {challenge.id}: the probe's canary file {probe.canaries!r} is "
                "missing from its hidden material"
            )
        return prober.load_canaries(path)

    # incidents -------------------------------------------------------------------------------
    def incident_log(self, run_id: str) -> schedule.EventLog:
        return schedule.EventLog(
            [
                (e.kind, e.at, e.data)
                for e in self.store.events(run_id)
                if e.kind.startswith("incident.")
            ]
        )

    def incident_record(self, run: Run, challenge: Challenge) -> IncidentRecord | None:
        """What the run's prober and schedule recorded (None: the challenge has no probe)."""
        if challenge.spec.probe is None:
            return None
        log = self.incident_log(run.id)
        return IncidentRecord(
            slo=challenge.spec.probe.to_slo(),
            injections=log.injections(challenge),
            samples=[prober.to_sample(row) for row in self.store.samples(run.id)],
            missed=log.missed(),
        )

    def workspace(self, run_id: str) -> tuple[Pod, Sandbox]:
        run = self.store.get(run_id)
        if run.status != Status.running:
            raise RunStateError(f"run {run_id} is {run.status.value}; its workspace is gone")
        pod = self.backend.attach_pod(run_id, "workspace")
        workspace = pod.member("workspace") if pod else None
        if pod is None or workspace is None:
            raise ContainerError(f"the workspace of run {run_id} no longer exists")
        return pod, workspace

    def forward(self, run_id: str, name: str) -> PublishedPort:
        """Publish a service (by name) or a declared port (by name) of a running run on the
        host's 127.0.0.1, once per process, until the run is submitted here or the process
        ends."""
        run = self.store.get(run_id)
        challenge = self.challenge_of(run)
        ports = {ref_name: kind.port for ref_name, kind in challenge.services(self.catalog)}
        ports.update({p.name: p.port for p in challenge.spec.ports})
        if name not in ports:
            raise ProdprovenError(
                f"run {run_id} has no service or port named {name!r} (known: {sorted(ports)})"
            )
        pod, _ = self.workspace(run_id)
        published = self._publish(run_id, pod, ports[name])
        self.event(run_id, "port.forwarded", {"name": name, "url": published.url})
        return published

    def lab(self, run_id: str) -> LabLink:
        """JupyterLab in a running run's workspace, published on the host's 127.0.0.1: it is
        started when it does not run (e.g. after a restart or a crash), and published once
        per process like ``forward``. The event ``lab.opened`` never holds the token.
        Raises RunStateError when the run is not running, ServiceNotReady when the lab does
        not come up."""
        run = self.store.get(run_id)
        if run.status != Status.running:
            self._unpublish(run_id)
            raise RunStateError(f"run {run_id} is {run.status.value}; its JupyterLab is gone")
        pod, workspace = self.workspace(run_id)
        token = lab_token(self.settings.data_dir, run_id)
        status = ensure_lab(workspace, token, run_id=run_id)
        published = self._publish(run_id, pod, LAB_PORT)
        self.event(
            run_id,
            "lab.opened",
            {
                "url": f"{published.url}{LAB_BASE_URL}lab",
                "port": published.host_port,
                "started": status.started,
            },
        )
        return LabLink(url=lab_url(published.url, token), port=published.host_port, token=token)

    def _publish(self, run_id: str, pod: Pod, port: int) -> PublishedPort:
        key = (run_id, port)
        with self._published_lock:
            cached = self._published.get(key)
        if cached is None:
            published = pod.publish(port)
            with self._published_lock:
                cached = self._published.setdefault(key, (pod, published))
            if cached[1] != published:  # another thread published first: use its forward
                pod.unpublish(published)
        return cached[1]

    def _unpublish(self, run_id: str) -> None:
        """Close this process's forwards into the run."""
        with self._published_lock:
            keys = [key for key in self._published if key[0] == run_id]
            dropped = [self._published.pop(key) for key in keys]
        for pod, published in dropped:
            pod.unpublish(published)

    # scripted candidates --------------------------------------------------------------------
    def overlay(self, run_id: str, submission: Path) -> None:
        """Copy ``submission`` over /workspace as if the candidate had written it."""
        if not submission.is_dir():
            raise ProdprovenError(f"submission {submission} is not a folder")
        _, workspace = self.workspace(run_id)
        self.event(run_id, "submission.overlaid", {"source": str(submission)})
        workspace.put_archive("/workspace", tarball.directories(submission))

    def autopilot(self, run_id: str, script: str = AUTOPILOT) -> ExecResult | None:
        """Run the submission's ``script`` (relative to /workspace) as the candidate, with the
        run's services up; None when the submission has no such script."""
        _, workspace = self.workspace(run_id)
        check = workspace.exec(["test", "-f", f"/workspace/{script}"], timeout=10)
        if not check.ok:
            return None
        run = self.store.get(run_id)
        assert run.deadline is not None
        remaining = max(5.0, (run.deadline - utcnow()).total_seconds())
        self.report(f"running the submission's {script}")
        self.event(run_id, "autopilot.started", {"script": script, "timeout_s": remaining})
        try:
            result = workspace.exec(["bash", script], timeout=remaining)
        except ExecTimeout as exc:
            self.event(run_id, "autopilot.timed_out", {"message": str(exc)})
            return None
        self.event(
            run_id,
            "autopilot.finished",
            {
                "exit_code": result.exit_code,
                "duration_s": round(result.duration_s, 2),
                "stdout": result.stdout[-4000:],
                "stderr": result.stderr[-4000:],
            },
        )
        return result

    # submit ----------------------------------------------------------------------------------
    def submit(self, run_id: str) -> Run:
        """Freeze and archive the workspace and the services' data (fsync'd, checksummed),
        then tear the pod down. A submit interrupted before its archives were recorded can be
        run again."""
        run = self.store.get(run_id)
        resuming = run.status == Status.submitted and run.archive_path is None
        if run.status != Status.running and not resuming:
            raise RunStateError(f"run {run_id} is {run.status.value}; only running runs submit")
        late = run.deadline is not None and (run.submitted_at or utcnow()) > run.deadline
        if not resuming:
            self.store.transition(run_id, Status.submitted, submitted_at=utcnow())
        with self._errors_recorded(run_id):
            self.report("archiving the workspace")
            paths = self.paths(run_id)
            paths.root.mkdir(parents=True, exist_ok=True)
            pod = self.backend.attach_pod(run_id, "workspace")
            workspace = pod.member("workspace") if pod else None
            if pod is None or workspace is None:
                raise ContainerError(f"the workspace of run {run_id} is gone; nothing to archive")
            challenge = self.challenge_of(run)
            self._unpublish(run_id)
            self._stop_live_parts(run, challenge, pod)
            workspace.stop(timeout=2)
            limit = self.settings.max_archive_mb * 2**20
            size, digest = write_archive(workspace, "/workspace", paths.archive, max_bytes=limit)
            self.event(run_id, "archive.written", {"bytes": size, "sha256": digest, "late": late})
            running = services.find_running(pod, challenge.services(self.catalog))
            if running:
                self.report("archiving the services' data")
            written = services.archive_services(running, paths.services, max_bytes=limit)
            for name, info in written.items():
                self.event(run_id, "service.archived", {"name": name, **info})
            self.store.update(
                run_id,
                archive_path=str(paths.archive),
                archive_sha256=digest,
                service_archives=written,
            )
            pod.remove()
        return self.store.get(run_id)

    def _stop_live_parts(self, run: Run, challenge: Challenge, pod: Pod) -> None:
        """Read the prober's last samples, then stop it and the live service, so nothing
        changes /workspace while it is archived."""
        probe_box = pod.member(prober.ROLE)
        if probe_box is not None:
            canaries = self.canaries(challenge, run.variant)
            prober.ProbeFeed(self.store, run.id, canaries).poll(probe_box, everything=True)
            probe_box.stop(timeout=5)
        live = pod.member(LIVE_SERVICE_ROLE)
        if live is not None:
            live.stop(timeout=5)

    # grade -----------------------------------------------------------------------------------
    def grade(self, run_id: str) -> Run:
        """Grade (or re-grade) a submitted run from its archive."""
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
        attempt = run.grading_attempts + 1
        run = self.store.transition(run_id, Status.grading, grading_attempts=attempt, error=None)
        with self._errors_recorded(run_id):
            challenge = self.challenge_of(run)
            self.report("building images")
            found = self.material(challenge, run.variant)
            plan = EvaluationPlan(
                run_id=run_id,
                attempt=attempt,
                challenge=challenge,
                challenge_image=self.challenge_image(challenge),
                grader_image=self.images.grader(),
                archive=Path(run.archive_path or ""),
                services=self.service_plans(challenge),
                service_archives=dict(run.service_archives or {}),
                client_env=services.client_env(challenge, self.catalog),
                hidden_roots=found.hidden,
                artifacts_dir=self.paths(run_id).artifacts,
                cpus=CpuPlan.for_cores(int(self.backend_cores()), self.settings.cpu_pinning),
            )
            evaluation = Evaluation(
                self.backend,
                plan,
                log=lambda kind, data: self.event(run_id, kind, data),
                record_artifact=lambda name, path, digest, size: self.store.add_artifact(
                    run_id, name, str(path), digest, size
                ),
                incident_record=lambda: self.incident_record(run, challenge),
            )
            job = GradingJob(
                run=run,
                challenge=challenge,
                plan=plan,
                evaluation=evaluation,
                graders=plugins.graders(),
                report=self.report,
                event=lambda kind, data: self.event(run_id, kind, data),
                regrading=load_regrading(
                    self.settings.data_dir, challenge.id, challenge.spec.version
                ),
            )
            document = grade(job)
            return self.store.transition(
                run_id, Status.graded, score=document["score"], result=document, graded_at=utcnow()
            )

    def backend_cores(self) -> int:
        client = getattr(self.backend, "client", None)
        return int(client.info().get("NCPU", 1)) if client is not None else (os.cpu_count() or 1)

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
        run = self.start(challenge, candidate, mode="scripted", variant=variant, fault=fault)
        with self._errors_recorded(run.id):
            if submission is not None:
                self.overlay(run.id, submission)
                self.autopilot(run.id)
            if challenge.spec.probe is not None:
                with RunSupervisor(self, run.id).background() as supervisor:
                    self._respond_to_incidents(run.id, challenge, supervisor, submission)
        self.submit(run.id)
        return self.grade(run.id)

    def _respond_to_incidents(
        self,
        run_id: str,
        challenge: Challenge,
        supervisor: RunSupervisor,
        submission: Path | None,
    ) -> None:
        probe = challenge.spec.probe
        assert probe is not None
        for planned in self.incident_log(run_id).planned():
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
        """Remove containers and volumes of runs that are no longer running (or unknown)."""
        removed: dict[str, int] = {}
        for run_id in sorted(self.backend.run_ids_with_leftovers()):
            try:
                status = self.store.get(run_id).status
            except ProdprovenError:
                status = None
            if status in (Status.running, Status.provisioning, Status.grading):
                continue
            removed[run_id] = self.backend.remove_run(run_id)
        return removed
