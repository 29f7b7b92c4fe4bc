"""A fake evaluation environment for grader tests: hidden files, a workspace, a deployment,
replica usage, earlier results and a scripted probe, each set by the test."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prodproven.graders.base import GraderError, GradeResult, ProbeOutput
from prodproven.graders.deployment import DeployFile, ReplicaUsage
from prodproven.sandbox.environment import ExecResult

Probe = Callable[[Mapping[str, bytes], Sequence[str]], Mapping[str, bytes]]
"""What a probe leaves in /grading/out, given the files and command it was run with."""
Tester = Callable[[Mapping[str, bytes], Sequence[str]], ProbeOutput]
"""What a tester run produces (its exit, output and /grading/out), given its files and command."""


def deploy(replicas: int = 2, cpus: float = 0.5, memory_mb: int = 512) -> DeployFile:
    return DeployFile(
        model="models/medium.joblib", replicas=replicas, cpus=cpus, memory_mb=memory_mb
    )


@dataclass
class FakeEnv:
    root: Path
    hidden: dict[str, bytes] = field(default_factory=dict)
    workspace: dict[str, bytes] = field(default_factory=dict)
    declared: DeployFile | GraderError = field(default_factory=deploy)
    usage: Callable[[], list[ReplicaUsage]] = list
    earlier: dict[str, GradeResult] = field(default_factory=dict)
    probe: Probe = lambda files, cmd: {}
    probes: list[tuple[dict[str, bytes], list[str]]] = field(default_factory=list)
    tester: Tester = lambda files, cmd: ProbeOutput(ExecResult(0, "", "", 1.0))
    testers: list[tuple[dict[str, bytes], list[str]]] = field(default_factory=list)
    artifacts: dict[str, bytes] = field(default_factory=dict)
    service_port: int = 8000

    def hidden_file(self, rel: str) -> Path:
        """``rel`` written under ``root``: a file of ``hidden``, or a folder of the files whose
        keys start with ``rel/``."""
        inside = {k: v for k, v in self.hidden.items() if k == rel or k.startswith(f"{rel}/")}
        if not inside:
            raise GraderError(f"hidden file {rel} is missing")
        for key, data in inside.items():
            path = self.root / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return self.root / rel

    def workspace_file(self, rel: str, *, max_bytes: int = 64 * 2**20) -> bytes | None:
        return self.workspace.get(rel)

    def ensure_service(self) -> float:
        self.deployment()
        return 0.0

    def deployment(self) -> DeployFile:
        if isinstance(self.declared, GraderError):
            raise self.declared
        return self.declared

    def service_usage(self) -> list[ReplicaUsage]:
        return self.usage()

    def earlier_result(self, grader: str) -> GradeResult:
        if grader not in self.earlier:
            raise GraderError(f"{grader} was not graded before this grader")
        return self.earlier[grader]

    def run_probe(
        self, files: Mapping[str, bytes], cmd: Sequence[str], *, timeout: float, load: bool = False
    ) -> ProbeOutput:
        self.probes.append((dict(files), list(cmd)))
        out = self.probe(files, cmd)
        return ProbeOutput(ExecResult(0, "", "", 1.0), out)

    def run_tester(
        self, files: Mapping[str, bytes], cmd: Sequence[str], *, timeout: float
    ) -> ProbeOutput:
        self.testers.append((dict(files), list(cmd)))
        return self.tester(files, cmd)

    def save_artifact(self, name: str, data: bytes) -> str:
        self.artifacts[name] = data
        return name

    def log(self, message: str) -> None:
        pass


def replica(
    name: str,
    cpu_seconds: float,
    *,
    cpus: float = 0.5,
    memory_mb: float = 200,
    peak_mb: float = 250,
    oom_kills: int = 0,
    restarts: int = 0,
) -> ReplicaUsage:
    return ReplicaUsage(
        name=name,
        cpus=cpus,
        memory_bytes=512 * 2**20,
        cpu_seconds=cpu_seconds,
        memory_bytes_now=int(memory_mb * 2**20),
        memory_peak_bytes=int(peak_mb * 2**20),
        oom_kills=oom_kills,
        restarts=restarts,
        state="running",
    )


def result(**evidence: Any) -> GradeResult:
    return GradeResult(score=1.0, passed=True, summary="earlier", evidence=evidence)
