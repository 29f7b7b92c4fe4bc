"""The plugin manager: built-in plugins are registered explicitly, exactly like third-party
ones would be; nothing registers itself on import."""

from __future__ import annotations

import importlib
from functools import cache

import pluggy
from pydantic import BaseModel

from graders.base import Grader
from runner import hookspecs
from runner.challenge import Catalog
from runner.errors import ProdprovenError
from sandbox.services import ServiceKind

BUILTIN_PLUGINS = ("graders.builtin", "sandbox.builtin")


@cache
def plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("prodproven")
    pm.add_hookspecs(hookspecs)
    for name in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    return pm


def graders() -> dict[str, type[Grader]]:  # type: ignore[type-arg]
    """Every registered grader class by kind. Raises ProdprovenError on a duplicate kind."""
    found: dict[str, type[Grader]] = {}  # type: ignore[type-arg]
    for batch in plugin_manager().hook.register_graders():
        for cls in batch:
            if cls.kind in found and found[cls.kind] is not cls:
                raise ProdprovenError(f"two plugins register a grader of kind {cls.kind!r}")
            found[cls.kind] = cls
    return found


def grader_params() -> dict[str, type[BaseModel]]:
    return {kind: cls.Params for kind, cls in graders().items()}


def services() -> dict[str, ServiceKind]:
    """Every registered service kind by name. Raises ProdprovenError on a duplicate kind."""
    found: dict[str, ServiceKind] = {}
    for batch in plugin_manager().hook.register_services():
        for kind in batch:
            if kind.kind in found and found[kind.kind] is not kind:
                raise ProdprovenError(f"two plugins register a service of kind {kind.kind!r}")
            found[kind.kind] = kind
    return found


def catalog() -> Catalog:
    """What specs may name: the installed grader and service kinds."""
    return Catalog(grader_params=grader_params(), services=services())
