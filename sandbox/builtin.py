"""Registers the Docker backend and the built-in service and fault kinds through the same
hooks third-party plugins use."""

from __future__ import annotations

from prodproven.sandbox.docker_backend import DockerBackend
from prodproven.sandbox.faults import Deploy, FaultKind
from prodproven.sandbox.plugin import hookimpl
from prodproven.sandbox.services import MLFLOW, ServiceKind


@hookimpl(trylast=True)
def sandbox_backend(settings: object, pod_image: str) -> DockerBackend:
    """The Docker backend (the engine from the environment); it needs none of the settings."""
    return DockerBackend.from_env(pod_image)


@hookimpl
def register_services() -> list[ServiceKind]:
    return [MLFLOW]


@hookimpl
def register_faults() -> list[FaultKind]:
    return [Deploy()]
