"""Registers the Docker backend and the built-in service and fault kinds through the same
hooks third-party plugins use."""

from __future__ import annotations

from prodproven.sandbox.docker_backend import DockerBackend
from prodproven.sandbox.faults import Deploy, FaultKind
from prodproven.sandbox.loopvolume import VolumeSettings
from prodproven.sandbox.plugin import hookimpl
from prodproven.sandbox.services import MLFLOW, ServiceKind


@hookimpl(trylast=True)
def sandbox_backend(settings: VolumeSettings, pod_image: str) -> DockerBackend:
    """The Docker backend (the engine from the environment), its workspaces limited to
    ``settings.workspace_mb`` where this machine can."""
    return DockerBackend.from_env(pod_image, settings.workspace_mb)


@hookimpl
def register_services() -> list[ServiceKind]:
    return [MLFLOW]


@hookimpl
def register_faults() -> list[FaultKind]:
    return [Deploy()]
