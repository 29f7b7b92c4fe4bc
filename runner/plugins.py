"""The plugin manager: built-in plugins are registered explicitly, exactly like third-party
ones would be; nothing registers itself on import."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from functools import cache
from typing import Protocol, TypeVar

import pluggy
from pydantic import BaseModel

from graders.base import Grader
from runner import hookspecs
from runner.challenge import Catalog
from runner.errors import ProdprovenError
from sandbox.faults import FaultKind
from sandbox.services import ServiceKind

BUILTIN_PLUGINS = ("graders.builtin", "sandbox.builtin")


@cache
def plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("prodproven")
    pm.add_hookspecs(hookspecs)
    for name in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    return pm


class _Kinded(Protocol):
    @property
    def kind(self) -> str: ...


T = TypeVar("T", bound=_Kinded)


def _by_kind(batches: Iterable[Iterable[T]], what: str) -> dict[str, T]:
    """Registered objects by their ``kind``; a kind claimed by two objects is an error."""
    found: dict[str, T] = {}
    for batch in batches:
        for item in batch:
            kind = item.kind
            if kind in found and found[kind] is not item:
                raise ProdprovenError(f"two plugins register a {what} of kind {kind!r}")
            found[kind] = item
    return found


def graders() -> dict[str, type[Grader]]:  # type: ignore[type-arg]
    """Every registered grader class by kind. Raises ProdprovenError on a duplicate kind."""
    return _by_kind(plugin_manager().hook.register_graders(), "grader")


def grader_params() -> dict[str, type[BaseModel]]:
    return {kind: cls.Params for kind, cls in graders().items()}


def services() -> dict[str, ServiceKind]:
    """Every registered service kind by name. Raises ProdprovenError on a duplicate kind."""
    return _by_kind(plugin_manager().hook.register_services(), "service")


def faults() -> dict[str, FaultKind]:
    """Every registered fault kind by name. Raises ProdprovenError on a duplicate kind."""
    return _by_kind(plugin_manager().hook.register_faults(), "fault")


def catalog() -> Catalog:
    """What specs may name: the installed grader, service and fault kinds."""
    return Catalog(grader_params=grader_params(), services=services(), faults=faults())
