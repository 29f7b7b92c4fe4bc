"""The grader contract: what a grader gets (an evaluation environment) and what it returns.

A grader turns evidence into a score in 0..1. It never runs candidate code in the runner's
process: everything it measures happens inside the run's evaluation pod, through the
:class:`EvaluationEnvironment` the runner hands it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prodproven.graders.deployfile import DeployFile, ReplicaUsage
from prodproven.graders.slo import IncidentRecord
from prodproven.sandbox.environment import ExecResult
from prodproven.sandbox.errors import ProdprovenError


class GraderError(ProdprovenError):
    """A grader could not do its job; the run records a failed result with this message."""


class Finding(BaseModel):
    """An integrity finding: something the candidate claimed that the evidence contradicts.
    ``grader`` is filled in by the runner with the grader's name in the spec."""

    grader: str = ""
    kind: str
    message: str
    evidence: dict[str, Any] = Field(default_factory=dict)


class GradeResult(BaseModel):
    """What a grader returns. ``evidence`` holds the numbers a reviewer can check."""

    score: float = Field(ge=0.0, le=1.0)
    passed: bool
    summary: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    findings: list[Finding] = Field(default_factory=list)
    error: str | None = None
    sem: float | None = Field(
        None,
        ge=0.0,
        description="standard error of ``score`` measured within this grading (e.g. across "
        "load windows); None when the grader repeated nothing",
    )

    @classmethod
    def failed(cls, reason: str, **evidence: Any) -> GradeResult:
        """A zero score because the grader could not measure (reason kept as the error)."""
        return cls(score=0.0, passed=False, summary=reason, evidence=evidence, error=reason)


HIDDEN_FILE: dict[str, Any] = {"hidden_file": True}
"""Pass as ``json_schema_extra`` of a parameter naming a file or folder of the challenge's
hidden material: ``challenge validate`` checks that it exists."""


class Params(BaseModel):
    """Base for grader parameters: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class ProbeOutput:
    """A command run in a grading container, plus the files it left in /grading/out."""

    result: ExecResult
    files: Mapping[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class ServedTester:
    """A long-running command in a tester container (e.g. a kernel), with some of its ports
    published on the host's loopback: ``addresses`` maps inner port -> (host, port)."""

    addresses: Mapping[int, tuple[str, int]]
    logs: Callable[[], str]
    state: Callable[[], str]


class EvaluationEnvironment(Protocol):
    """What the runner offers graders while a run is graded (see runner/evaluation.py)."""

    @property
    def service_port(self) -> int:
        """Port of the candidate's service inside the pod."""

    def hidden_file(self, rel: str) -> Path:
        """Host path of a file under the challenge's hidden material; GraderError if missing."""

    def service_url(self, name: str) -> str:
        """Host URL (on 127.0.0.1) of the run's service ``name``, restored from its state at
        submit. Raises GraderError when the challenge has no such service."""

    def incident(self) -> IncidentRecord:
        """The run's incidents as the runner recorded them while the candidate worked: faults
        injected (and when), the prober's samples and the SLO. Raises GraderError when the
        challenge has no probe."""

    def workspace_file(self, rel: str, *, max_bytes: int = 64 * 2**20) -> bytes | None:
        """A file of the submitted workspace as bytes (data only: never executed here), or
        None when it is absent or not a regular file."""

    def ensure_service(self) -> float:
        """Make sure the candidate's service answers its health check (restarting it once if
        it died); returns seconds waited. Raises ServiceNotReady."""

    def deployment(self) -> DeployFile:
        """The deployment the candidate declared, as started. Raises DeploymentInvalid with the
        problem, or GraderError when the challenge declares no deployment."""

    def service_usage(self) -> list[ReplicaUsage]:
        """For each replica (one entry for a single service): declared limits and what its
        cgroup measured (see sandbox.environment.Usage). Safe to call from another thread
        while a probe runs."""

    def earlier_result(self, grader: str) -> GradeResult:
        """The result of the grader named ``grader`` graded earlier in this attempt. Raises
        GraderError when it was not graded before this one."""

    def run_probe(
        self, files: Mapping[str, bytes], cmd: Sequence[str], *, timeout: float, load: bool = False
    ) -> ProbeOutput:
        """Run ``cmd`` in a fresh container of the trusted grader image inside the pod, as an
        unprivileged user. ``files`` are written under /grading (keys are relative paths); what
        the command leaves in /grading/out comes back. ``load`` pins it apart from the service."""

    def run_tester(
        self, files: Mapping[str, bytes], cmd: Sequence[str], *, timeout: float
    ) -> ProbeOutput:
        """Like run_probe, but as the candidate user in a fresh container of the challenge image
        holding the submitted workspace (for hidden tests)."""

    def serve_tester(
        self,
        files: Mapping[str, bytes],
        cmd: Sequence[str],
        *,
        ports: Sequence[int],
        ready_timeout: float = 60.0,
    ) -> AbstractContextManager[ServedTester]:
        """Run ``cmd`` as the main process of a tester container (see run_tester), wait until
        each of ``ports`` accepts connections (GraderError after ``ready_timeout``), and publish
        them on the host's loopback while the context lasts."""

    def save_artifact(self, name: str, data: bytes) -> str:
        """Store a file of evidence with the run; returns its path."""

    def log(self, message: str) -> None:
        """Record a line in the run's event log."""


M = TypeVar("M", bound=BaseModel)


def read_hidden(env: EvaluationEnvironment, rel: str, model: type[M], what: str) -> M:
    """The hidden JSON file ``rel`` as ``model``; GraderError naming the file, what it should
    be and its first problem."""
    try:
        return model.model_validate_json(env.hidden_file(rel).read_bytes())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the file"
        raise GraderError(f"{rel}: not {what}: {where}: {first['msg']}") from exc


P = TypeVar("P", bound=Params)


@dataclass(frozen=True)
class Verdict:
    """Whether a requirement held, with the measured value and the threshold in ``detail``
    ("p95 164 ms > SLO 100 ms"). ``borderline``: the measurement is within its own noise of
    the threshold, so another measurement could have gone the other way."""

    met: bool
    detail: str
    borderline: bool = False


@dataclass(frozen=True)
class Condition(Generic[P]):
    """A condition a challenge's requirement can hold a grader to: ``check`` reads the
    grader's result (and its parameters, where the thresholds are) and never measures again."""

    description: str
    check: Callable[[GradeResult, P], Verdict]


def own_pass_condition(result: GradeResult, params: Params) -> Verdict:
    """The ``passed`` condition every grader offers: its own pass condition."""
    return Verdict(result.passed, result.summary)


PASSED = Condition[Params]("the grader's own pass condition (see its entry)", own_pass_condition)


class Grader(ABC, Generic[P]):
    """One kind of grader. Subclasses set ``kind``, ``description`` and ``Params``, and may
    offer ``conditions`` that a challenge's requirements name (``passed`` is always offered)
    and set ``timed``."""

    kind: ClassVar[str]
    description: ClassVar[str]
    Params: ClassVar[type[Params]]
    conditions: ClassVar[Mapping[str, Condition[Any]]] = {}
    timed: ClassVar[bool] = False
    """True when its verdict depends on wall-clock measurements on this machine (latency,
    throughput, a lag against a bound): a grading with such a grader waits for one of the
    machine's timing slots (one by default), so a neighbour's load does not change its figures."""

    @classmethod
    def condition(cls, name: str) -> Condition[Any] | None:
        """The condition ``name`` (``passed`` or one of ``conditions``), or None."""
        return PASSED if name == "passed" else cls.conditions.get(name)

    @classmethod
    def condition_names(cls) -> list[str]:
        return ["passed", *cls.conditions]

    @abstractmethod
    def grade(self, env: EvaluationEnvironment, params: P) -> GradeResult:
        """Measure and score. Raise GraderError (or let a SandboxError through) to record a
        failed result; never return a made-up score."""
