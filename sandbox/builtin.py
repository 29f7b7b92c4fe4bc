"""Registers the Docker backend and the built-in service and fault kinds through the same
hooks third-party plugins use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prodproven.runner.hookspecs import hookimpl
from prodproven.sandbox.docker_backend import DockerBackend
from prodproven.sandbox.faults import Deploy, FaultKind
from prodproven.sandbox.services import MLFLOW, ServiceKind

if TYPE_CHECKING:
    from prodproven.runner.config import Settings


@hookimpl(trylast=True)
def sandbox_backend(settings: Settings, pod_image: str) -> DockerBackend:
    return DockerBackend.from_env(pod_image)


@hookimpl
def register_services() -> list[ServiceKind]:
    return [MLFLOW]


@hookimpl
def register_faults() -> list[FaultKind]:
    return [Deploy()]
