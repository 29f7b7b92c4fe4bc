"""Fault kinds: how the runner breaks a run's live service from outside the candidate's reach.

A challenge's spec lists its fault catalogue (``faults:``), each fault naming a kind, the root
cause category it stands for and the symptom it causes; a schedule says when one fires. The
mechanism lives here, in a kind registered through the ``register_faults`` hook (the built-in
kinds below are registered the same way). Kinds act through the Docker API on the service's
container (archives, restarts), never through anything the candidate's code could intercept.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from prodproven.sandbox import tarball
from prodproven.sandbox.environment import CANDIDATE_UID, Sandbox
from prodproven.sandbox.errors import SandboxError


class FaultError(SandboxError):
    """A fault could not be injected (its material is missing, the service is gone, ...)."""


class FaultParams(BaseModel):
    """Base for a fault kind's parameters: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class FaultTarget:
    """What a fault acts on: the live service's container (which shares the candidate's
    /workspace) and the roots of the challenge's hidden material, where fault files live."""

    service: Sandbox
    material: tuple[Path, ...]

    def material_dir(self, rel: str) -> Path:
        """The folder ``rel`` of the hidden material. Raises FaultError when it is missing."""
        for root in self.material:
            path = (root / rel).resolve()
            if path.is_relative_to(root.resolve()) and path.is_dir():
                return path
        raise FaultError(f"the fault material folder {rel!r} is missing from the challenge")


class FaultKind(ABC):
    """One way of breaking a service. Subclasses set ``kind``, ``description``, ``Params``."""

    kind: ClassVar[str]
    description: ClassVar[str]
    Params: ClassVar[type[FaultParams]]

    @abstractmethod
    def inject(self, target: FaultTarget, params: Any) -> dict[str, Any]:
        """Break the service; returns what was done, for the run's event log.

        Raises FaultError (or another SandboxError) when the fault could not be applied.
        """


class DeployParams(FaultParams):
    source: str = Field(
        description="folder of the hidden material whose files are copied over /workspace, "
        "keeping their relative paths (e.g. a new config.yaml or model version)"
    )
    restart: bool = Field(True, description="restart the service's container afterwards")


class Deploy(FaultKind):
    """A bad deploy: a bot pushes files (config, model, code) over the service's /workspace and
    restarts the service, as a CD pipeline would."""

    kind = "deploy"
    description = "copy files from the hidden material over /workspace, then restart the service"
    Params = DeployParams

    def inject(self, target: FaultTarget, params: DeployParams) -> dict[str, Any]:
        source = target.material_dir(params.source)
        files = sorted(p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file())
        if not files:
            raise FaultError(f"the fault material folder {params.source!r} has no files")
        # Stamped now, like a real deploy: `ls -lt` is one way to see what just changed.
        archive = tarball.directories(source, owner=CANDIDATE_UID, mtime=int(time.time()))
        target.service.put_archive("/workspace", archive)
        if params.restart:
            target.service.restart()
        return {"files": files, "restarted": params.restart}
