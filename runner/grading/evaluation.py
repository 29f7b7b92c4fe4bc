"""The evaluation pod: the run's services restored from their submit archives, a fresh copy of
the submitted workspace running the candidate's service (if the challenge has one), plus
short-lived grading containers beside them. Hidden material enters only these grading
containers, and only now."""

from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from prodproven.graders.base import GraderError, GradeResult, ProbeOutput, ServedTester
from prodproven.graders.deployment import DeployFile, DeploymentInvalid, ReplicaUsage
from prodproven.graders.slo import IncidentRecord
from prodproven.runner.errors import ProdprovenError
from prodproven.runner.grading import deployment as deployments
from prodproven.runner.runs.services import ServicePlan, start_services
from prodproven.runner.spec.challenge import Challenge
from prodproven.runner.spec.prepare import pod_size
from prodproven.sandbox import tarball
from prodproven.sandbox.environment import (
    CANDIDATE_UID,
    NOBODY_USER,
    Backend,
    ContainerSpec,
    Limits,
    Pod,
    PodSize,
    Sandbox,
)
from prodproven.sandbox.errors import ContainerError, SandboxError, ServiceNotReady

OUTPUT_LIMIT = 256 * 2**20
CANDIDATE_TMPFS = {
    "/tmp": "rw,nosuid,size=512m,mode=1777",
    "/home/candidate": f"rw,nosuid,size=256m,uid={CANDIDATE_UID},gid={CANDIDATE_UID},mode=0700",
}
GRADER_LIMITS = Limits(memory_bytes=1 * 2**30, cpus=1.0, pids=512)


class EvaluationLost(ProdprovenError):
    """The evaluation pod was lost (its node went down): the grading ends errored."""


@dataclass(frozen=True)
class CpuPlan:
    """Which cores the service and the load generator get (None: no pinning)."""

    service: str | None = None
    load: str | None = None

    @classmethod
    def for_cores(cls, cores: int, enabled: bool) -> CpuPlan:
        return cls(service="0", load="1") if enabled and cores >= 2 else cls()


@dataclass(frozen=True)
class EvaluationPlan:
    run_id: str
    attempt: int
    challenge: Challenge
    challenge_image: str
    grader_image: str
    archive: Path
    hidden_roots: tuple[Path, ...]
    artifacts_dir: Path
    cpus: CpuPlan
    services: list[ServicePlan] = field(default_factory=list)
    service_archives: dict[str, dict[str, object]] = field(default_factory=dict)
    client_env: dict[str, str] = field(default_factory=dict)
    incident: IncidentRecord | None = None
    """What the run's prober and schedule recorded (None: the challenge has no probe)."""


class RunRecords(Protocol):
    """Where an evaluation records what it did for its run: the event log and the artifacts
    (the store is one)."""

    def add_event(self, run_id: str, kind: str, data: dict[str, Any] | None = None) -> None: ...

    def add_artifact(self, run_id: str, name: str, path: str, sha256: str, size: int) -> None: ...


def candidate_container(
    role: str,
    image: str,
    run_id: str,
    purpose: str,
    limits: Limits,
    *,
    command: Sequence[str] | None,
    cpuset: str | None = None,
    extra_volumes: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    workspace_of: str | None = None,
) -> ContainerSpec:
    """The hardened spec every container holding candidate files gets. Its /workspace is a
    volume of its own, or the one of the container with role ``workspace_of``."""
    volume = f"pp-{run_id}-{purpose}-{workspace_of or role}"
    return ContainerSpec(
        role=role,
        image=image,
        limits=limits,
        command=command,
        cpuset=cpuset,
        env=dict(env or {}),
        volumes={volume: "/workspace", **(extra_volumes or {})},
        tmpfs=CANDIDATE_TMPFS,
    )


class Evaluation:
    """Implements prodproven.graders.base.EvaluationEnvironment for one grading attempt."""

    def __init__(self, backend: Backend, plan: EvaluationPlan, records: RunRecords) -> None:
        self._backend = backend
        self._plan = plan
        self._records = records
        self._pod: Pod | None = None
        self._service: Sandbox | None = None
        self._deployment: deployments.Deployment | None = None
        self._invalid: DeploymentInvalid | None = None
        self._results: dict[str, GradeResult] = {}
        self._service_urls: dict[str, str] = {}
        self._helpers = 0
        self.current_grader = "evaluation"

    # lifecycle -----------------------------------------------------------------------------
    def size(self) -> PodSize:
        """What the pod reserves: services, service or deployment, a helper beside a tester."""
        spec = self._plan.challenge.spec
        limits = [plan.kind.limits for plan in self._plan.services]
        if spec.service is not None and spec.service.deployment is not None:
            quota = spec.service.deployment.quota
            limits += [Limits(quota.memory_mb * 2**20, quota.cpus, 0), deployments.BALANCER_LIMITS]
        elif spec.service is not None:
            limits.append(self._service_limits())
        return pod_size([*limits, GRADER_LIMITS, spec.resources.limits])

    def open(self) -> None:
        """Make the evaluation pod, start what is graded. Raises EvaluationLost, SandboxError."""
        old = self._backend.attach_pod(self._plan.run_id, "evaluation")
        if old is not None:
            old.remove()
        plan = self._plan
        self._pod = self._backend.create_pod(
            plan.run_id,
            "evaluation",
            hosts=[s.name for s in plan.services],
            size=self.size(),
            on_wait=lambda reason: self._log("evaluation.waiting", {"reason": reason}),
        )
        try:
            self._start(self._pod, plan)
        except SandboxError:
            self.check_standing()
            raise

    def _start(self, pod: Pod, plan: EvaluationPlan) -> None:
        if plan.services:
            archives = plan.service_archives.items()
            restore = {name: Path(str(info["path"])) for name, info in archives}
            for running in start_services(pod, plan.services, restore=restore):
                published = pod.publish(running.kind.port)
                self._service_urls[running.name] = published.url
            self._log("evaluation.services", {"urls": dict(self._service_urls)})
        service = plan.challenge.spec.service
        if service is None:
            return
        if service.deployment is not None:
            self._start_deployment()
            return
        limits, cpuset = self._service_limits(), plan.cpus.service
        self._service = pod.add(self._candidate("service", limits, service.command, cpuset=cpuset))
        self._service.put_archive("/workspace", self._plan.archive.read_bytes())
        self._service.start()
        self._log("evaluation.started", {"service": self._service.name})

    def _start_deployment(self) -> None:
        """Start what the archived deploy.yaml declares, or record why nothing was started."""
        pod, plan = self._require(), self._plan
        service = plan.challenge.spec.service
        assert service is not None and service.deployment is not None
        try:
            declared = deployments.read_declared(plan.archive, service.deployment)
        except DeploymentInvalid as exc:
            self._invalid = exc
            self._log("deployment.invalid", {"message": str(exc)})
            return
        self._deployment = deployments.start(
            pod,
            declared,
            service,
            replica_spec=lambda role, limits, env: self._candidate(
                role, limits, service.command, env=env
            ),
            archive=plan.archive.read_bytes(),
            pids=self._service_limits().pids,
            client_env=plan.client_env,
            balancer_image=plan.grader_image,
            balancer_cpuset=plan.cpus.load,
            balancer_volume=f"pp-{plan.run_id}-evaluation-balancer",
        )
        self._log(
            "deployment.started",
            {
                "model": declared.model,
                "replicas": [r.box.name for r in self._deployment.replicas],
                "cpus": declared.cpus,
                "memory_mb": declared.memory_mb,
            },
        )

    def close(self) -> None:
        """Remove the pod; a lost pod's leftovers are left to ``gc`` (its node is gone)."""
        if self._pod is not None:
            if self._pod.lost() is None:
                self._pod.remove()
            self._pod = None
            self._service = None
            self._deployment = None
            self._service_urls.clear()

    def service_logs(self) -> str:
        if self._deployment is not None:
            return deployments.logs(self._deployment, tail=200)
        return self._service.logs(tail=200) if self._service else ""

    def record_result(self, grader: str, result: GradeResult) -> None:
        """Keep a finished grader's result for the graders after it (earlier_result); raises
        EvaluationLost when the pod was lost under the grader (the result would be void)."""
        self.check_standing()
        self._results[grader] = result

    def check_standing(self) -> None:
        """Raises EvaluationLost, with the backend's reason, when the pod is lost."""
        reason = self._pod.lost() if self._pod is not None else None
        if reason is not None:
            raise EvaluationLost(f"the evaluation pod of run {self._plan.run_id} is lost: {reason}")

    # EvaluationEnvironment -----------------------------------------------------------------
    @property
    def service_port(self) -> int:
        service = self._plan.challenge.spec.service
        assert service is not None
        return service.port

    def service_url(self, name: str) -> str:
        url = self._service_urls.get(name)
        if url is None:
            raise GraderError(
                f"challenge {self._plan.challenge.id} has no service named {name!r} "
                f"(services: {sorted(self._service_urls) or 'none'})"
            )
        return url

    def incident(self) -> IncidentRecord:
        record = self._plan.incident
        if record is None:
            raise GraderError(
                f"challenge {self._plan.challenge.id} has no probe, so no incident record"
            )
        return record

    def workspace_file(self, rel: str, *, max_bytes: int = 64 * 2**20) -> bytes | None:
        with tarfile.open(self._plan.archive) as tar:
            member = deployments.archive_member(tar, rel)
            if member is None or not member.isfile():
                return None
            if member.size > max_bytes:
                raise GraderError(f"{rel} in the workspace is larger than {max_bytes} bytes")
            fh = tar.extractfile(member)
            return fh.read() if fh else None

    def hidden_file(self, rel: str) -> Path:
        for root in self._plan.hidden_roots:
            path = (root / rel).resolve()
            if path.is_relative_to(root.resolve()) and path.exists():
                return path
        raise GraderError(
            f"hidden material {rel!r} is missing from challenge {self._plan.challenge.id}"
        )

    def deployment(self) -> DeployFile:
        return self._require_deployment().declared

    def service_usage(self) -> list[ReplicaUsage]:
        spec = self._plan.challenge.spec.service
        if spec is not None and spec.deployment is not None:
            return deployments.usage(self._require_deployment())
        _, service = self._require_service()
        limits = self._service_limits()
        return [deployments.measured(service, limits.cpus, limits.memory_bytes)]

    def earlier_result(self, grader: str) -> GradeResult:
        result = self._results.get(grader)
        if result is None:
            raise GraderError(
                f"grader {grader!r} was not graded before {self.current_grader!r} "
                f"(graded so far: {', '.join(self._results) or 'none'})"
            )
        return result

    def ensure_service(self) -> float:
        spec = self._plan.challenge.spec.service
        if spec is not None and spec.deployment is not None:
            return deployments.wait_ready(
                self._require(), self._require_deployment(), spec, self._log
            )
        pod, service = self._require_service()
        assert spec is not None
        if service.state() != "running":
            code = service.exit_code()
            self._log(
                "service.restarted",
                {"grader": self.current_grader, "exit_code": code, "logs": service.logs(tail=30)},
            )
            service.restart()
        try:
            return pod.wait_http(spec.port, spec.health_path, timeout=spec.startup_timeout_s)
        except ServiceNotReady as exc:
            raise ServiceNotReady(
                f"{exc}. The service's last output:\n{service.logs(tail=20)}"
            ) from exc

    def run_probe(
        self,
        files: Mapping[str, bytes],
        cmd: Sequence[str],
        *,
        timeout: float,
        load: bool = False,
    ) -> ProbeOutput:
        pod = self._require()
        self._helpers += 1
        role = f"probe{self._helpers}"
        container = pod.add(
            ContainerSpec(
                role=role,
                image=self._plan.grader_image,
                limits=GRADER_LIMITS,
                command=["sleep", "infinity"],
                user=NOBODY_USER,
                workdir="/grading",
                volumes={f"pp-{self._plan.run_id}-evaluation-{role}": "/grading"},
                tmpfs={"/tmp": "rw,size=256m,mode=1777"},
                cpuset=self._plan.cpus.load if load else None,
            )
        )
        return self._run_helper(container, files, cmd, timeout, owner=65534)

    def run_tester(
        self, files: Mapping[str, bytes], cmd: Sequence[str], *, timeout: float
    ) -> ProbeOutput:
        container = self._tester(["sleep", "infinity"])
        return self._run_helper(container, files, cmd, timeout, owner=CANDIDATE_UID)

    @contextmanager
    def serve_tester(
        self,
        files: Mapping[str, bytes],
        cmd: Sequence[str],
        *,
        ports: Sequence[int],
        ready_timeout: float = 60.0,
    ) -> Iterator[ServedTester]:
        container = self._tester(cmd)
        container.put_archive("/grading", tarball.files(files, owner=CANDIDATE_UID))
        container.start()
        pod = self._require()
        try:
            addresses = {}
            for port in ports:
                # A client that connects through the forward before the port listens can
                # stall (ZeroMQ waits out its 30 s handshake interval), so wait here first.
                try:
                    pod.wait_port(port, timeout=ready_timeout)
                except ServiceNotReady as exc:
                    raise GraderError(f"{exc}; its output:\n{container.logs(tail=30)}") from exc
                published = pod.publish(port)
                addresses[port] = (published.host, published.host_port)
            yield ServedTester(
                addresses=addresses, logs=lambda: container.logs(tail=100), state=container.state
            )
        finally:
            container.stop(timeout=1)

    def _tester(self, command: Sequence[str]) -> Sandbox:
        """A fresh container of the challenge image holding the submitted workspace, as the
        candidate, with /grading for the grader's files."""
        pod = self._require()
        self._helpers += 1
        role = f"tester{self._helpers}"
        container = pod.add(
            self._candidate(
                role,
                self._plan.challenge.spec.resources.limits,
                command,
                extra_volumes={f"pp-{self._plan.run_id}-evaluation-{role}-grading": "/grading"},
            )
        )
        container.put_archive("/workspace", self._plan.archive.read_bytes())
        return container

    def save_artifact(self, name: str, data: bytes) -> str:
        folder = self._plan.artifacts_dir / f"attempt-{self._plan.attempt}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.current_grader}-{name}"
        path.write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        self._records.add_artifact(
            self._plan.run_id, f"{self.current_grader}/{name}", str(path), digest, len(data)
        )
        return str(path)

    def log(self, message: str) -> None:
        self._log("grader.log", {"grader": self.current_grader, "message": message})

    # helpers -------------------------------------------------------------------------------
    def _log(self, kind: str, data: dict[str, Any]) -> None:
        self._records.add_event(self._plan.run_id, kind, data)

    def _require(self) -> Pod:
        if self._pod is None:
            raise GraderError("the evaluation pod is not open")
        return self._pod

    def _candidate(
        self, role: str, limits: Limits, command: Sequence[str], **more: Any
    ) -> ContainerSpec:
        """A container of the challenge image for the workspace (``env``: the client's)."""
        plan = self._plan
        more = {"env": plan.client_env, **more}
        return candidate_container(
            role, plan.challenge_image, plan.run_id, "evaluation", limits, command=command, **more
        )

    def _require_deployment(self) -> deployments.Deployment:
        spec = self._plan.challenge.spec.service
        if spec is None or spec.deployment is None:
            raise GraderError(f"challenge {self._plan.challenge.id} declares no deployment")
        if self._invalid is not None:
            raise DeploymentInvalid(str(self._invalid))
        if self._deployment is None:
            raise GraderError("the evaluation pod is not open")
        return self._deployment

    def _service_limits(self) -> Limits:
        spec = self._plan.challenge.spec
        assert spec.service is not None
        return spec.service.limits or spec.resources.limits

    def _require_service(self) -> tuple[Pod, Sandbox]:
        pod = self._require()
        if self._service is None:
            raise GraderError(
                f"challenge {self._plan.challenge.id} declares no service for this grader"
            )
        return pod, self._service

    def _run_helper(
        self,
        container: Sandbox,
        files: Mapping[str, bytes],
        cmd: Sequence[str],
        timeout: float,
        *,
        owner: int,
    ) -> ProbeOutput:
        container.put_archive("/grading", tarball.files({**files, "out/": b""}, owner=owner))
        container.start()
        try:
            result = container.exec(cmd, workdir="/grading", timeout=timeout)
            outputs = _read_outputs(container)
        finally:
            container.stop(timeout=1)
        return ProbeOutput(result=result, files=outputs)


def _read_outputs(container: Sandbox) -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        dest = os.path.join(tmp, "out.tar")
        try:
            container.get_archive("/grading/out/.", dest, max_bytes=OUTPUT_LIMIT)
        except ContainerError:
            return {}
        files: dict[str, bytes] = {}
        with tarfile.open(dest) as tar:
            for member in tar:
                fh = tar.extractfile(member) if member.isfile() else None
                if fh is not None:
                    files[member.name.removeprefix("./")] = fh.read()
        return files
