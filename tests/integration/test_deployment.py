"""A declared deployment in a real evaluation pod: replicas with exactly the declared limits
behind HAProxy, their cgroup usage measured, and an OOM-killed replica counted and restarted."""

from __future__ import annotations

import io
import json
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from prodproven.graders.deployment import ReplicaUsage
from prodproven.runner.grading.evaluation import CpuPlan, Evaluation, EvaluationPlan
from prodproven.runner.spec.challenge import Challenge, ChallengeSpec
from prodproven.sandbox.docker_backend import DockerBackend
from prodproven.sandbox.environment import CANDIDATE_UID
from prodproven.sandbox.images import ImageBuilder

pytestmark = pytest.mark.docker

SERVICE = b"""
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/alloc":
            hog = bytearray(400 * 2**20)  # past the 128 MB limit: the kernel kills us
            hog[::4096] = b"x" * len(hog[::4096])
        sum(i * i for i in range(200_000))  # some CPU for the cgroup to count
        body = os.environ["PORT"].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""
DEPLOY = b"model: models/m.bin\nreplicas: 2\ncpus: 0.25\nmemory_mb: 128\n"
HIT = b"""
import json, sys, urllib.request
ports = []
for _ in range(int(sys.argv[2])):
    with urllib.request.urlopen(sys.argv[1], timeout=10) as answer:
        ports.append(answer.read().decode())
open("out/ports.json", "w").write(json.dumps(ports))
"""


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def add_event(self, run_id: str, kind: str, data: dict[str, Any] | None = None) -> None:
        self.seen.append((kind, data or {}))

    def add_artifact(self, run_id: str, name: str, path: str, sha256: str, size: int) -> None:
        pass


def archive(path: Path, deploy: bytes) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in {
            "service.py": SERVICE,
            "deploy.yaml": deploy,
            "models/m.bin": b"weights",
        }.items():
            info = tarfile.TarInfo(f"./{name}")
            info.size, info.uid, info.gid = len(data), CANDIDATE_UID, CANDIDATE_UID
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def evaluation(
    backend: DockerBackend, images: ImageBuilder, run_id: str, tmp_path: Path
) -> Iterator[tuple[Evaluation, Events]]:
    spec = ChallengeSpec.model_validate(
        {
            "id": "tiny-deploy",
            "title": "Tiny deployment",
            "version": "1.0.0",
            "time_limit_minutes": 10,
            "competencies": ["infrastructure"],
            "service": {
                "command": ["python3", "/workspace/service.py"],
                "port": 8000,
                "startup_timeout_s": 30,
                "deployment": {"quota": {"cpus": 1.0, "memory_mb": 512}},
            },
            "graders": [{"name": "x", "kind": "fixed", "competency": "infrastructure"}],
        }
    )
    plan = EvaluationPlan(
        run_id=run_id,
        attempt=1,
        challenge=Challenge(spec=spec, root=tmp_path),
        challenge_image=images.runtime(),
        grader_image=images.grader(),
        archive=archive(tmp_path / "workspace.tar", DEPLOY),
        hidden_roots=(),
        artifacts_dir=tmp_path / "artifacts",
        cpus=CpuPlan(),
    )
    events = Events()
    env = Evaluation(backend, plan, events)
    env.open()
    try:
        yield env, events
    finally:
        env.close()


def probe_ports(env: Evaluation, url: str, count: int) -> list[str]:
    output = env.run_probe({"hit.py": HIT}, ["python3", "hit.py", url, str(count)], timeout=60)
    assert output.result.ok, output.result.stderr
    ports: list[str] = json.loads(output.files["ports.json"])
    return ports


def test_a_deployment_runs_as_declared_behind_the_balancer_and_is_measured(
    evaluation: tuple[Evaluation, Events], docker_client: Any, run_id: str
) -> None:
    env, events = evaluation
    env.ensure_service()
    assert env.deployment().replicas == 2

    [first, second] = [
        docker_client.api.inspect_container(f"pp-{run_id}-evaluation-service-{i}") for i in (1, 2)
    ]
    for replica in (first, second):
        host = replica["HostConfig"]
        assert (host["NanoCpus"], host["Memory"]) == (250_000_000, 128 * 2**20)
        assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}

    ports = probe_ports(env, "http://127.0.0.1:8000/", 12)
    assert set(ports) == {"8101", "8102"}, ports

    usage = env.service_usage()
    assert [u.name for u in usage] == ["service-1", "service-2"]
    for replica_usage in usage:
        assert replica_usage.cpu_seconds > 0
        assert 0 < replica_usage.memory_peak_bytes <= 128 * 2**20
        assert (replica_usage.oom_kills, replica_usage.restarts) == (0, 0)

    # A replica allocating past its limit is killed by the kernel and restarted by the engine.
    env.run_probe(
        {"hit.py": HIT}, ["python3", "hit.py", "http://127.0.0.1:8101/alloc", "1"], timeout=30
    )
    killed = wait_for(
        lambda: env.service_usage()[0], lambda u: u.oom_kills >= 1 and u.restarts >= 1
    )
    assert (killed.oom_kills, killed.restarts) == (1, 1)
    assert killed.cpu_seconds >= usage[0].cpu_seconds  # carried over the restart
    assert env.service_usage()[1].oom_kills == 0
    env.ensure_service()
    assert set(probe_ports(env, "http://127.0.0.1:8000/", 6)) == {"8101", "8102"}
    assert "== service-1 ==" in env.service_logs() and "== balancer ==" in env.service_logs()
    assert not [kind for kind, _ in events.seen if kind.startswith("deployment.un")]


def wait_for(
    read: Callable[[], ReplicaUsage], done: Callable[[ReplicaUsage], bool], timeout: float = 20.0
) -> ReplicaUsage:
    """``read()`` once ``done`` says so, or its last value after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.5)
