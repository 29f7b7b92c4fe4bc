"""A candidate's declared deployment (``deploy.yaml``): its schema, the quota it must fit,
what it costs, and what each replica used while it was graded.

The runner starts exactly what the file declares (runner/grading/deployment.py); graders read
it back through ``EvaluationEnvironment.deployment()`` and ``service_usage()``.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from prodproven.graders.base import GraderError, Params
from prodproven.graders.deployfile import (
    MAX_CPUS,
    MAX_ENV,
    MAX_MEMORY_MB,
    MAX_REPLICAS,
    MIN_CPUS,
    MIN_MEMORY_MB,
    DeployFile,
    ReplicaUsage,
)
from prodproven.sandbox.untrusted import UntrustedInput, load_yaml

__all__ = [
    "HOURS_PER_MONTH",
    "MAX_CPUS",
    "MAX_ENV",
    "MAX_MEMORY_MB",
    "MAX_REPLICAS",
    "MIN_CPUS",
    "MIN_MEMORY_MB",
    "DeployFile",
    "DeploymentInvalid",
    "Pricing",
    "Quota",
    "Reservation",
    "ReplicaUsage",
    "monthly_cost",
    "parse_deploy",
]

HOURS_PER_MONTH = 730.0
"""A month of reserved capacity, as cloud price lists count it (8760 hours / 12)."""
QUOTA_SLACK = 1e-9
"""Float tolerance when totals are compared to the quota (4 x 0.5 cpus is 2.0 exactly)."""


class Quota(Params):
    """The most a deployment may reserve, summed over its replicas."""

    cpus: float = Field(gt=0, le=64, description="total CPUs across replicas")
    memory_mb: int = Field(gt=0, le=2**20, description="total memory in MB across replicas")


class Pricing(BaseModel):
    """The schema of pricing.yaml (workspace) and pricing.json (hidden): reserved capacity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    currency: str = Field(min_length=1, max_length=8, description='e.g. "USD"')
    vcpu_hour: float = Field(gt=0, description="price of one reserved vCPU for one hour")
    gib_hour: float = Field(gt=0, description="price of one reserved GiB of memory for one hour")


class DeploymentInvalid(GraderError):
    """The declared deployment is missing, unreadable, outside the schema or over the quota;
    nothing was started. The message names the file, the field and the value."""


def parse_deploy(
    text: str, quota: Quota, *, models_dir: str, file: str = "deploy.yaml"
) -> DeployFile:
    """The deployment ``text`` declares, checked against the schema, ``models_dir`` (the
    model must be a path below it) and ``quota``. Raises DeploymentInvalid with one readable
    message ("deploy.yaml: replicas: 6 is above the maximum of 4")."""
    try:
        raw = load_yaml(text, what=file)
    except UntrustedInput as exc:
        raise DeploymentInvalid(str(exc)) from exc
    if not isinstance(raw, dict):
        raise DeploymentInvalid(f"{file}: must be a mapping of fields, not {_kind(raw)}")
    try:
        deploy = DeployFile.model_validate(raw)
    except ValidationError as exc:
        raise DeploymentInvalid(f"{file}: {_first_problem(exc.errors()[0])}") from exc
    _check_model(deploy.model, models_dir, file)
    if deploy.total_cpus > quota.cpus + QUOTA_SLACK:
        raise DeploymentInvalid(
            f"{file}: {deploy.replicas} replicas x {deploy.cpus:g} cpus = "
            f"{deploy.total_cpus:g} cpus, above the quota of {quota.cpus:g}"
        )
    if deploy.total_memory_mb > quota.memory_mb:
        raise DeploymentInvalid(
            f"{file}: {deploy.replicas} replicas x {deploy.memory_mb} MB = "
            f"{deploy.total_memory_mb} MB, above the quota of {quota.memory_mb} MB"
        )
    return deploy


class Reservation(Protocol):
    """What a deployment reserves, whichever model it serves: all that is priced."""

    @property
    def replicas(self) -> int: ...

    @property
    def cpus(self) -> float: ...

    @property
    def memory_mb(self) -> int: ...


def monthly_cost(deploy: Reservation, pricing: Pricing) -> float:
    """What the deployment's reservation costs per month, to the cent."""
    per_hour = deploy.cpus * pricing.vcpu_hour + deploy.memory_mb / 1024 * pricing.gib_hour
    return round(deploy.replicas * per_hour * HOURS_PER_MONTH, 2)


def _check_model(model: str, models_dir: str, file: str) -> None:
    path = PurePosixPath(model)
    base = PurePosixPath(models_dir)
    shown = repr(model[:120])
    if path.is_absolute() or ".." in path.parts:
        raise DeploymentInvalid(
            f"{file}: model: {shown} must be a path relative to /workspace, without '..'"
        )
    if path.parent != base or not path.name:
        raise DeploymentInvalid(f"{file}: model: {shown} must be a file directly in {models_dir}/")


def _first_problem(error: ErrorDetails) -> str:
    field = ".".join(str(part) for part in error["loc"]) or "the file"
    value = error.get("input")
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    kind = error["type"]
    if kind == "missing":
        return f"{field} is missing"
    if kind == "extra_forbidden":
        return (
            f"{field} is not a field of a deployment (fields: {', '.join(DeployFile.model_fields)})"
        )
    if kind in ("less_than_equal", "less_than"):
        return f"{field}: {_shown(value)} is above the maximum of {ctx.get('le', ctx.get('lt'))}"
    if kind in ("greater_than_equal", "greater_than"):
        return f"{field}: {_shown(value)} is below the minimum of {ctx.get('ge', ctx.get('gt'))}"
    if kind == "value_error":
        return f"{field}: {ctx.get('error', error['msg'])}"
    return f"{field}: {_shown(value)} is not valid ({error['msg'].lower()})"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "..."


def _kind(value: Any) -> str:
    return "nothing" if value is None else f"a {type(value).__name__}"
