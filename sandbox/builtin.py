"""Registers the Docker and Swarm backends and the built-in service and fault kinds through the
same hooks third-party plugins use."""

from __future__ import annotations

from prodproven.sandbox.docker_backend import DockerBackend
from prodproven.sandbox.faults import Deploy, FaultKind
from prodproven.sandbox.plugin import hookimpl
from prodproven.sandbox.services import MLFLOW, ServiceKind
from prodproven.sandbox.settings import BackendSettings
from prodproven.sandbox.swarm_backend import SwarmBackend


@hookimpl(trylast=True)
def sandbox_backend(settings: BackendSettings, pod_image: str) -> DockerBackend:
    """The Docker backend (the engine from the environment), its workspaces limited to
    ``settings.workspace_mb`` where this machine can."""
    return DockerBackend.from_env(pod_image, settings.workspace_mb)


@hookimpl(specname="sandbox_backend")
def swarm_backend(settings: BackendSettings, pod_image: str) -> SwarmBackend | None:
    """The Swarm backend when ``settings.backend`` is ``swarm`` (its manager and registry from
    the settings; DockerUnavailable when they do not work), else None."""
    if settings.backend != "swarm":
        return None
    return SwarmBackend.from_settings(settings, pod_image)


@hookimpl
def register_services() -> list[ServiceKind]:
    return [MLFLOW]


@hookimpl
def register_faults() -> list[FaultKind]:
    return [Deploy()]
