"""The schema of a candidate's deployment file (deploy.yaml) and the record of what each
replica used. Free of the grader machinery so that graders.base can name them; graders import
them from graders.deployment."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_REPLICAS = 4
MIN_CPUS, MAX_CPUS = 0.25, 2.0
MIN_MEMORY_MB, MAX_MEMORY_MB = 128, 2048
MAX_ENV = 16
MAX_ENV_VALUE = 256
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
RESERVED_ENV = ("PORT", "MODEL_PATH")
"""Set by the runner for every replica; a deployment may not override them."""


class DeployFile(BaseModel):
    """The schema of deploy.yaml: which model to serve and how much of it to run."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    model: str = Field(description="the model file to serve, relative to /workspace")
    replicas: int = Field(ge=1, le=MAX_REPLICAS, description="how many replica containers")
    cpus: float = Field(ge=MIN_CPUS, le=MAX_CPUS, description="CPU limit of each replica")
    memory_mb: int = Field(
        ge=MIN_MEMORY_MB, le=MAX_MEMORY_MB, description="memory limit of each replica in MB"
    )
    env: dict[str, str] = Field(
        default_factory=dict, description="extra environment variables of each replica"
    )

    @field_validator("env")
    @classmethod
    def _env_is_bounded(cls, env: dict[str, str]) -> dict[str, str]:
        if len(env) > MAX_ENV:
            raise ValueError(f"{len(env)} variables, more than the maximum of {MAX_ENV}")
        for name, value in env.items():
            if not ENV_NAME.match(name):
                raise ValueError(f"{name[:60]!r} is not a name like WORKERS (A-Z, 0-9, _)")
            if name in RESERVED_ENV:
                raise ValueError(f"{name} is set by the runner and cannot be overridden")
            if len(value) > MAX_ENV_VALUE:
                raise ValueError(f"{name} is longer than {MAX_ENV_VALUE} characters")
        return env

    @property
    def total_cpus(self) -> float:
        return self.replicas * self.cpus

    @property
    def total_memory_mb(self) -> int:
        return self.replicas * self.memory_mb


@dataclass(frozen=True)
class ReplicaUsage:
    """One replica's declared limits and what its cgroup measured since it was created."""

    name: str
    cpus: float
    memory_bytes: int
    cpu_seconds: float
    memory_bytes_now: int
    memory_peak_bytes: int
    oom_kills: int
    restarts: int
    state: str
