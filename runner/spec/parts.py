"""The parts of a challenge spec: resources, the image recipe, the prepare and setup scripts,
services, ports and graders (``ChallengeSpec`` in runner/spec/challenge.py puts them together)."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import Field, GetJsonSchemaHandler, field_validator, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from prodproven.graders.deployment import MAX_REPLICAS, Quota
from prodproven.runner.spec.framework import (
    BUILTIN,
    BUILTIN_FILE,
    FOREIGN_COMPETENCY,
    FrameworkError,
)
from prodproven.runner.spec.model import DAY_S
from prodproven.runner.spec.model import Strict as _Strict
from prodproven.sandbox.environment import Limits

MIN_WEIGHT, MAX_WEIGHT = 0.01, 1000.0
"""A grader's weight: at least a hundredth and at most a thousand, so that the weights sum to a
finite number and none normalises to 0."""
MAX_SIZE = 2**40
"""The largest size a spec may give (1 TiB)."""

_SIZE = re.compile(r"^([0-9]{1,15}(?:\.[0-9]{1,15})?)\s*([kmg]?)i?b?$", re.I)


def parse_size(text: str) -> int:
    match = _SIZE.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a size")
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}[unit])


class Competency(StrEnum):
    """What a grader's score counts toward: a competency of the built-in framework
    (runner/spec/frameworks/builtin.yaml gives each its label, description and levels;
    docs/scoring.md#competencies lists the same), or one of another framework named
    ``FRAMEWORK/COMPETENCY`` (runner/spec/framework.py), which is not a member of this
    enumeration but a value of it all the same."""

    deployment = "deployment"
    optimization = "optimization"
    infrastructure = "infrastructure"
    incident_response = "incident_response"
    ai_judgment = "ai_judgment"

    @classmethod
    def _missing_(cls, value: object) -> Competency | None:
        if not (isinstance(value, str) and re.match(FOREIGN_COMPETENCY, value)):
            return None
        foreign = str.__new__(cls, value)
        foreign._name_, foreign._value_ = value, value
        return foreign

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        builtin = handler.resolve_ref_schema(handler(core))
        foreign = {"type": "string", "pattern": FOREIGN_COMPETENCY}
        return {"anyOf": [builtin, foreign], "description": "a built-in id or FRAMEWORK/ID"}


def _about_builtin() -> dict[Competency, tuple[str, str]]:
    """Raises FrameworkError when the built-in framework's file and this enumeration differ."""
    ids = [c.id for c in BUILTIN.competencies]
    if ids != [c.value for c in Competency]:
        raise FrameworkError(f"{BUILTIN_FILE} has competencies {ids}, the code {list(Competency)}")
    return {Competency(c.id): (c.label, c.description) for c in BUILTIN.competencies}


ABOUT_COMPETENCIES = _about_builtin()
"""Each built-in competency's label and one-line description, as people read them (the one
list)."""


def about_competency(name: str) -> tuple[str, str]:
    """The label and description of a built-in competency named by its id, as a stored result
    document has it; another framework's (``FRAMEWORK/ID``) or an id this version does not
    know (a document from another version) is shown as it is, without a description."""
    try:
        return ABOUT_COMPETENCIES[Competency(name)]
    except (ValueError, KeyError):
        return name, ""


class Resources(_Strict):
    """Limits for every candidate container of a run."""

    memory: str = Field("1g", description="memory limit, e.g. 512m or 2g (no swap on top)")
    cpus: float = Field(1.0, gt=0, le=64, description="CPU share, e.g. 1.0 = one core")
    pids: int = Field(256, ge=16, le=32768, description="most processes and threads at once")

    @field_validator("memory")
    @classmethod
    def _memory_parses(cls, value: str) -> str:
        return checked_size(value, 64 * 2**20)

    @property
    def memory_bytes(self) -> int:
        return parse_size(self.memory)

    @property
    def limits(self) -> Limits:
        return Limits(memory_bytes=self.memory_bytes, cpus=self.cpus, pids=self.pids)


class Reservation(_Strict):
    """What one run holds of the machine's capacity while it has a pod, when less than the sum
    of its containers' limits (the default): idle use measured, like a Kubernetes request."""

    memory: str = Field(description="memory one run holds, e.g. 600m")
    cpus: float = Field(0.0, ge=0, le=64, description="CPUs one run holds, e.g. 0.25")

    @field_validator("memory")
    @classmethod
    def _memory_parses(cls, value: str) -> str:
        return checked_size(value, 2**20)

    @property
    def memory_bytes(self) -> int:
        return parse_size(self.memory)


def checked_size(value: str, least: int) -> str:
    """``value`` when it is a size from ``least`` bytes to 1024g; else ValueError."""
    if not _SIZE.match(value.strip()):
        raise ValueError(f"{value!r} is not a size like 512m or 2g")
    if not least <= parse_size(value) <= MAX_SIZE:
        raise ValueError(f"{value!r} is not from the {least // 2**20}m minimum to 1024g")
    return value


class ImageRecipe(_Strict):
    recipe: str = Field(
        "image", description="folder with the Dockerfile, relative to the challenge"
    )


class Prepare(_Strict):
    """A generator run once per challenge version (and variant seed) inside its image, with no
    network, as ``python SCRIPT OUT [--seed N]``."""

    script: str = Field(description="Python script, relative to the challenge folder")
    timeout_s: float = Field(600, gt=0, le=DAY_S, description="how long the script may run")


class Setup(_Strict):
    """A script run once per run, after the services are up and before the clock starts, in a
    container of the challenge image inside the run's pod (e.g. to register a model)."""

    script: str = Field(description="Python script, relative to the challenge folder")
    timeout_s: float = Field(300, gt=0, le=DAY_S, description="how long the script may run")


class ServiceRef(_Strict):
    """A service started beside the workspace, reachable from the run as ``http://NAME:PORT``."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,30}$", description="host name inside the run")
    kind: str = Field(description="service kind, e.g. mlflow")


_RELATIVE = r"^[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}$"
"""A path relative to /workspace (its parts are checked for '..' too)."""


class DeploymentSpec(_Strict):
    """The service runs as the candidate declares it in a file of the workspace: a model,
    a number of replicas and their limits, behind a load balancer on ``service.port``."""

    file: str = Field(
        "deploy.yaml", pattern=_RELATIVE, description="the declaration, relative to /workspace"
    )
    models_dir: str = Field(
        "models",
        pattern=_RELATIVE,
        description="folder relative to /workspace whose files `model:` may name",
    )
    quota: Quota = Field(description="the most CPUs and memory all replicas may reserve together")
    first_port: int = Field(
        8101,
        ge=1024,
        le=65535 - MAX_REPLICAS,
        description="replica i (0-based) listens on first_port + i, told by the PORT variable",
    )

    @field_validator("file", "models_dir")
    @classmethod
    def _no_parent(cls, value: str) -> str:
        if ".." in value.split("/"):
            raise ValueError(f"{value!r} must stay inside /workspace, without '..'")
        return value

    def replica_ports(self, replicas: int) -> list[int]:
        return [self.first_port + i for i in range(replicas)]


class ServiceSpec(_Strict):
    """How to start the candidate's service in the evaluation container (and, with
    ``during_run``, beside the workspace for the whole run)."""

    command: list[str] = Field(description="argv, run as the candidate user in /workspace")
    port: int = Field(ge=1024, le=65535, description="port the service listens on")
    health_path: str = Field("/health", description="GET path that answers 2xx when ready")
    startup_timeout_s: float = Field(60, gt=0, le=DAY_S, description="how long to wait for health")
    during_run: bool = Field(
        False,
        description="also run it while the candidate works, in its own container sharing "
        "/workspace (a production service they operate; faults and the prober target it)",
    )
    resources: Resources | None = Field(
        None, description="limits of the service's container (default: the challenge's)"
    )
    deployment: DeploymentSpec | None = Field(
        None,
        description="run the service as the candidate's deployment file declares (replicas "
        "with their own limits behind a load balancer listening on ``port``)",
    )

    @model_validator(mode="after")
    def _ports_apart(self) -> ServiceSpec:
        if self.deployment is not None:
            ports = self.deployment.replica_ports(MAX_REPLICAS)
            if self.port in ports:
                raise ValueError(
                    f"port {self.port} is one of the replicas' ports {ports[0]}-{ports[-1]} "
                    "(deployment.first_port)"
                )
            if self.during_run:
                raise ValueError("a service with a deployment cannot run during_run")
        return self

    @property
    def limits(self) -> Limits | None:
        return self.resources.limits if self.resources else None


class PortSpec(_Strict):
    name: str = Field(
        pattern=r"^[a-z][a-z0-9-]*$", description="a port of the workspace people may reach"
    )
    port: int = Field(ge=1, le=65535, description="its number inside the pod")


class GraderSpec(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$", description="unique within the challenge")
    kind: str = Field(description="grader kind, e.g. load, correctness, pytest")
    competency: Competency = Field(description="one of the challenge's competencies")
    weight: float = Field(
        1.0,
        ge=MIN_WEIGHT,
        le=MAX_WEIGHT,
        description=f"weight in the score formula, {MIN_WEIGHT:g} to {MAX_WEIGHT:g}",
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="the grader's parameters, checked against its model"
    )
    requires: list[str] = Field(
        default_factory=list,
        description="names of graders listed earlier that must pass for this one to count; "
        "when one did not, this grader is not run and scores 0 (e.g. latency counts only for "
        "right answers)",
    )
