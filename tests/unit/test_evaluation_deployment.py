"""A challenge whose service is the candidate's deployment: the evaluation starts exactly what
deploy.yaml declares (replicas with the declared limits behind HAProxy), refuses an invalid
file with one message, waits for the replicas it can, and reports their usage; graders read
earlier graders' results. The pod reserves what it holds, and a pod lost with its node ends
the grading with the reason."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

from prodproven.graders.base import GraderError, GradeResult
from prodproven.graders.deployment import DeploymentInvalid, ReplicaUsage
from prodproven.runner.grading import deployment as deployments
from prodproven.runner.grading.evaluation import (
    GRADER_LIMITS,
    CpuPlan,
    Evaluation,
    EvaluationLost,
    EvaluationPlan,
)
from prodproven.runner.spec.challenge import Challenge, ChallengeSpec
from prodproven.sandbox.environment import NOBODY_USER, Backend, ContainerSpec, PodSize, Usage
from prodproven.sandbox.errors import ContainerError, ServiceNotReady

DEPLOY = b"model: models/m.bin\nreplicas: 2\ncpus: 0.5\nmemory_mb: 256\nenv: {WORKERS: '3'}\n"


@dataclass
class Box:
    spec: ContainerSpec
    name: str
    status: str = "created"
    files: list[bytes] = field(default_factory=list)
    restarts: int = 0

    @property
    def role(self) -> str:
        return self.spec.role

    def put_archive(self, path: str, data: bytes) -> None:
        self.files.append(data)

    def start(self) -> None:
        self.status = "running"

    def restart(self) -> None:
        self.status, self.restarts = "running", self.restarts + 1

    def state(self) -> str:
        return self.status

    def exit_code(self) -> int | None:
        return None if self.status == "running" else 137

    def logs(self, tail: int = 200) -> str:
        return f"output of {self.role}"

    def usage(self) -> Usage:
        return Usage(2.5, 100 * 2**20, 150 * 2**20, oom_kills=1, restarts=1)


@dataclass
class Pod:
    """``down``: why the pod is lost (its node went down), None while it stands."""

    healthy: set[int]
    boxes: list[Box] = field(default_factory=list)
    waited: list[int] = field(default_factory=list)
    down: str | None = None
    removed: int = 0

    def lost(self) -> str | None:
        return self.down

    def add(self, spec: ContainerSpec) -> Box:
        box = Box(spec, f"pp-r1-evaluation-{spec.role}")
        self.boxes.append(box)
        return box

    def wait_http(self, port: int, path: str, *, timeout: float) -> float:
        self.waited.append(port)
        if port not in self.healthy:
            raise ServiceNotReady(f"nothing answered 2xx at 127.0.0.1:{port}{path}")
        return 0.5

    def remove(self) -> None:
        self.removed += 1
        self.boxes.clear()

    def role(self, role: str) -> Box:
        return next(box for box in self.boxes if box.role == role)


@dataclass
class Engine:
    """Hands out ``pod``, the sizes asked recorded; ``waits``: what it reports waiting for."""

    pod: Pod
    sizes: list[PodSize | None] = field(default_factory=list)
    waits: list[str] = field(default_factory=list)

    def attach_pod(self, run_id: str, purpose: str) -> None:
        return None

    def create_pod(
        self,
        run_id: str,
        purpose: str,
        *,
        hosts: Sequence[str] = (),
        size: PodSize | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> Pod:
        self.sizes.append(size)
        for reason in self.waits:
            assert on_wait is not None
            on_wait(reason)
        return self.pod


@dataclass
class Records:
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def add_event(self, run_id: str, kind: str, data: dict[str, Any] | None = None) -> None:
        self.events.append((kind, data or {}))

    def add_artifact(self, run_id: str, name: str, path: str, sha256: str, size: int) -> None:
        pass

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [data for seen, data in self.events if seen == kind]


def workspace(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"./{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def challenge(root: Path, deployment: bool = True) -> Challenge:
    service: dict[str, Any] = {"command": ["bash", "/workspace/start.sh"], "port": 8000}
    if deployment:
        service["deployment"] = {"quota": {"cpus": 2.0, "memory_mb": 2048}}
    else:
        service["resources"] = {"cpus": 1.5, "memory": "768m"}
    spec = ChallengeSpec.model_validate(
        {
            "id": "capacity",
            "title": "Capacity",
            "version": "1.0.0",
            "time_limit_minutes": 10,
            "competencies": ["infrastructure"],
            "resources": {"pids": 300},
            "service": service,
            "graders": [{"name": "x", "kind": "fixed", "competency": "infrastructure"}],
        }
    )
    return Challenge(spec=spec, root=root)


def evaluation(
    tmp_path: Path,
    files: dict[str, bytes] | None = None,
    *,
    healthy: Sequence[int] = (8000, 8101, 8102),
    deployment: bool = True,
    engine: Engine | None = None,
) -> tuple[Evaluation, Pod, Records]:
    files = {"deploy.yaml": DEPLOY, "models/m.bin": b"w"} if files is None else files
    plan = EvaluationPlan(
        run_id="r1",
        attempt=1,
        challenge=challenge(tmp_path, deployment),
        challenge_image="challenge:1",
        grader_image="grader:1",
        archive=workspace(tmp_path / "ws.tar", files),
        hidden_roots=(),
        artifacts_dir=tmp_path / "artifacts",
        cpus=CpuPlan(service="0", load="1"),
        client_env={"HTTP_PROXY": "", "PORT": "1"},
    )
    engine = engine or Engine(Pod(set(healthy)))
    records = Records()
    env = Evaluation(cast(Backend, engine), plan, records)
    env.open()
    return env, engine.pod, records


def test_the_replicas_start_with_exactly_the_declared_limits_and_environment(
    tmp_path: Path,
) -> None:
    env, pod, records = evaluation(tmp_path)
    assert [box.role for box in pod.boxes] == ["service-1", "service-2", "balancer"]
    for index, box in enumerate(pod.boxes[:2]):
        spec = box.spec
        assert (spec.limits.cpus, spec.limits.memory_bytes, spec.limits.pids) == (
            0.5,
            256 * 2**20,
            300,
        )
        assert spec.restart_retries == 3 and spec.cpuset is None
        assert spec.image == "challenge:1" and spec.command == ["bash", "/workspace/start.sh"]
        assert spec.env == {
            "HTTP_PROXY": "",
            "WORKERS": "3",
            "PORT": str(8101 + index),
            "MODEL_PATH": "/workspace/models/m.bin",
        }
        assert box.status == "running" and len(box.files) == 1
    assert pod.boxes[0].spec.volumes != pod.boxes[1].spec.volumes
    assert env.deployment().replicas == 2
    assert records.of("deployment.started")[0]["replicas"] == [
        "pp-r1-evaluation-service-1",
        "pp-r1-evaluation-service-2",
    ]


def test_the_balancer_is_trusted_haproxy_pinned_with_the_load_and_health_checking(
    tmp_path: Path,
) -> None:
    _, pod, _ = evaluation(tmp_path)
    balancer = pod.role("balancer")
    assert (balancer.spec.image, balancer.spec.user, balancer.spec.cpuset) == (
        "grader:1",
        NOBODY_USER,
        "1",
    )
    assert balancer.spec.command == ["haproxy", "-db", "-f", "/balancer/haproxy.cfg"]
    with tarfile.open(fileobj=io.BytesIO(balancer.files[0])) as tar:
        handle = tar.extractfile("haproxy.cfg")
        assert handle is not None
        config = handle.read().decode()
    for line in (
        "bind 127.0.0.1:8000",
        "balance leastconn",
        "option httpchk GET /health",
        "server replica-1 127.0.0.1:8101 check",
        "server replica-2 127.0.0.1:8102 check",
        "default-server inter 1s fall 2 rise 1",
        "maxconn 2000",
        "timeout server 60s",
    ):
        assert line in config


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"deploy.yaml": DEPLOY.replace(b"replicas: 2", b"replicas: 6")},
            "deploy.yaml: replicas: 6 is above the maximum of 4",
        ),
        (
            {"deploy.yaml": DEPLOY.replace(b"cpus: 0.5", b"cpus: 1.5")},
            "deploy.yaml: 2 replicas x 1.5 cpus = 3 cpus, above the quota of 2",
        ),
        ({}, "deploy.yaml: missing from the submitted workspace"),
        (
            {"deploy.yaml": DEPLOY},
            "deploy.yaml: model: 'models/m.bin' is not a file of the submitted workspace",
        ),
    ],
)
def test_an_invalid_deployment_starts_nothing_and_every_use_says_why(
    tmp_path: Path, files: dict[str, bytes], message: str
) -> None:
    env, pod, records = evaluation(tmp_path, files)
    assert pod.boxes == []
    [invalid] = records.of("deployment.invalid")
    assert invalid["message"].startswith(message)
    for use in (env.ensure_service, env.deployment, env.service_usage):
        with pytest.raises(DeploymentInvalid) as info:
            use()
        assert str(info.value).startswith(message)


def test_ensure_service_waits_for_each_replica_then_the_balancer(tmp_path: Path) -> None:
    env, pod, records = evaluation(tmp_path)
    assert env.ensure_service() >= 0
    assert pod.waited == [8101, 8102, 8000]
    assert records.of("deployment.unready") == []


def test_a_replica_never_ready_is_logged_and_the_others_serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deployments, "CHECK_INTER_S", 0.0)
    env, pod, records = evaluation(tmp_path, healthy=(8000, 8101))
    env.ensure_service()
    [unready] = records.of("deployment.unready")
    assert (unready["replica"], unready["logs"]) == ("service-2", "output of service-2")


def test_no_replica_ready_is_service_not_ready_with_the_first_ones_output(
    tmp_path: Path,
) -> None:
    env, _, records = evaluation(tmp_path, healthy=(8000,))
    with pytest.raises(ServiceNotReady, match="none of the 2 replicas answered /health"):
        env.ensure_service()
    assert len(records.of("deployment.unready")) == 2


def test_a_replica_that_exited_is_restarted_before_the_wait(tmp_path: Path) -> None:
    env, pod, records = evaluation(tmp_path)
    pod.role("service-2").status = "exited"
    env.ensure_service()
    assert pod.role("service-2").restarts == 1
    assert records.of("service.restarted")[0]["container"] == "service-2"


def test_usage_is_one_entry_per_replica_with_its_declared_limits(tmp_path: Path) -> None:
    env, _, _ = evaluation(tmp_path)
    expected = ReplicaUsage(
        name="service-1",
        cpus=0.5,
        memory_bytes=256 * 2**20,
        cpu_seconds=2.5,
        memory_bytes_now=100 * 2**20,
        memory_peak_bytes=150 * 2**20,
        oom_kills=1,
        restarts=1,
        state="running",
    )
    assert env.service_usage() == [
        expected,
        ReplicaUsage(**{**vars(expected), "name": "service-2"}),
    ]


def test_a_single_service_has_one_usage_entry_with_its_limits_and_no_deployment(
    tmp_path: Path,
) -> None:
    env, pod, _ = evaluation(tmp_path, deployment=False)
    [usage] = env.service_usage()
    assert (usage.name, usage.cpus, usage.memory_bytes) == ("service", 1.5, 768 * 2**20)
    with pytest.raises(GraderError, match="declares no deployment"):
        env.deployment()


def test_service_logs_hold_every_replica_and_the_balancer_labelled(tmp_path: Path) -> None:
    env, _, _ = evaluation(tmp_path)
    logs = env.service_logs()
    for role in ("service-1", "service-2", "balancer"):
        assert f"== {role} ==\noutput of {role}" in logs


def test_earlier_results_are_those_recorded_before_the_asking_grader(tmp_path: Path) -> None:
    env, _, _ = evaluation(tmp_path)
    capacity = GradeResult(score=0.8, passed=True, summary="held", evidence={"peak_p95_ms": 120})
    env.record_result("capacity", capacity)
    env.current_grader = "decision-record"
    assert env.earlier_result("capacity") == capacity
    with pytest.raises(GraderError, match="'cost' was not graded before 'decision-record'"):
        env.earlier_result("cost")


# the evaluation pod: what it reserves, waiting for room, lost with its node -------------------
def test_the_pod_reserves_the_deployments_quota_its_balancer_a_helper_and_a_tester(
    tmp_path: Path,
) -> None:
    engine = Engine(Pod({8000, 8101, 8102}))
    evaluation(tmp_path, engine=engine)
    resources = challenge(tmp_path).spec.resources.limits
    parts = [deployments.BALANCER_LIMITS, GRADER_LIMITS, resources]
    assert engine.sizes == [
        PodSize(2048 * 2**20 + sum(p.memory_bytes for p in parts), 2.0 + sum(p.cpus for p in parts))
    ]


def test_the_pod_of_a_single_service_reserves_its_limits_a_helper_and_a_tester(
    tmp_path: Path,
) -> None:
    engine = Engine(Pod({8000}))
    evaluation(tmp_path, {"start.sh": b""}, deployment=False, engine=engine)
    resources = challenge(tmp_path, deployment=False).spec.resources.limits
    memory = 768 * 2**20 + GRADER_LIMITS.memory_bytes + resources.memory_bytes
    assert engine.sizes == [PodSize(memory, 1.5 + GRADER_LIMITS.cpus + resources.cpus)]


def test_waiting_for_room_in_the_cluster_is_logged_with_the_reason(tmp_path: Path) -> None:
    engine = Engine(Pod({8000, 8101, 8102}), waits=["no suitable node"])
    _, _, records = evaluation(tmp_path, engine=engine)
    assert records.of("evaluation.waiting") == [{"reason": "no suitable node"}]


def test_a_grader_result_on_a_lost_pod_ends_the_grading_with_the_reason(tmp_path: Path) -> None:
    env, pod, _ = evaluation(tmp_path)
    env.record_result("first", GradeResult(score=1.0, passed=True, summary="ok"))
    pod.down = "node pp-cluster-node-2 of run r1 is down"
    with pytest.raises(EvaluationLost, match="evaluation pod of run r1 is lost: node pp-cl"):
        env.record_result("second", GradeResult(score=0.0, passed=False, summary="gone"))
    with pytest.raises(GraderError, match="'second' was not graded"):
        env.earlier_result("second")


class Unreachable(Pod):
    """A pod whose node's engine no longer answers."""

    def add(self, spec: ContainerSpec) -> Box:
        raise ContainerError("connection refused")


def test_a_sandbox_failure_while_opening_on_a_lost_pod_is_told_as_the_loss(
    tmp_path: Path,
) -> None:
    pod = Unreachable({8000}, down="node n2 is down")
    with pytest.raises(EvaluationLost, match="is lost: node n2 is down"):
        evaluation(tmp_path, {"start.sh": b""}, deployment=False, engine=Engine(pod))


def test_a_lost_pod_is_not_removed_its_leftovers_are_gcs(tmp_path: Path) -> None:
    env, pod, _ = evaluation(tmp_path)
    pod.down = "node n2 is down"
    env.close()
    assert pod.removed == 0
    standing, kept, _ = evaluation(tmp_path)
    standing.close()
    assert kept.removed == 1
