"""Registers the Docker backend through the same hook third-party backends use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runner.hookspecs import hookimpl
from sandbox.docker_backend import DockerBackend

if TYPE_CHECKING:
    from runner.config import Settings


@hookimpl(trylast=True)
def sandbox_backend(settings: Settings, pod_image: str) -> DockerBackend:
    return DockerBackend.from_env(pod_image)
