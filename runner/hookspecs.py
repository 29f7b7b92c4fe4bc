"""Every extension point of prodproven, as pluggy hook specifications.

Built-in graders, service kinds, fault kinds, sandbox backends, cheats and plots are registered
through these same hooks (see runner/plugins.py), so a firm's plugin is a peer of the built-ins.
Each hook is documented in docs/plugins.md; tests/unit/test_docs.py fails when one is not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pluggy

from prodproven.sandbox.plugin import PROJECT, hookimpl

if TYPE_CHECKING:
    from prodproven.graders.base import Grader
    from prodproven.runner.config import Settings
    from prodproven.runner.gate.cheats import Cheat
    from prodproven.sandbox.environment import Backend
    from prodproven.sandbox.faults import FaultKind
    from prodproven.sandbox.services import ServiceKind

__all__ = ["hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker(PROJECT)


@dataclass(frozen=True)
class Figure:
    """One drawn figure of a grader's evidence; ``error`` (and no SVG) when its plot failed."""

    id: str
    title: str
    grader: str
    svg: str
    caption: str
    error: str | None = None


Draw = Callable[[str, dict[str, Any]], list[Figure]]
"""Draws the figures of one grader from its name in the spec and its evidence; [] when the
evidence supports none."""


@dataclass(frozen=True)
class Plot:
    """The figures of every grader of ``kind``, drawn by ``draw`` (a ``register_plots`` hook
    returns these)."""

    kind: str
    draw: Draw


@hookspec
def register_graders() -> list[type[Grader]]:  # type: ignore[type-arg]
    """Return grader classes; each becomes available to specs under its ``kind``.

    An installed package ships a grader without a hook: an entry point in the
    ``prodproven.graders`` group named after its kind (see docs/plugins.md)."""
    raise NotImplementedError


@hookspec(firstresult=True)
def sandbox_backend(settings: Settings, pod_image: str) -> Backend | None:
    """Return the sandbox backend to run containers with, or None to let another plugin."""
    raise NotImplementedError


@hookspec
def register_services() -> list[ServiceKind]:
    """Return service kinds (e.g. an MLflow tracking server) that specs may start in a run."""
    raise NotImplementedError


@hookspec
def register_faults() -> list[FaultKind]:
    """Return fault kinds (ways to break a live service) that a challenge's faults may use."""
    raise NotImplementedError


@hookspec
def register_cheats() -> list[Cheat]:
    """Return cheats: probe submissions ``challenge validate`` runs against their graders."""
    raise NotImplementedError


@hookspec
def register_plots() -> list[Plot]:
    """Return plots: each draws figures of one grader kind's evidence for the run page and the
    standalone report."""
    raise NotImplementedError
