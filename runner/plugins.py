"""The plugin manager: built-in plugins are registered explicitly, exactly like third-party
ones would be; nothing registers itself on import.

Graders, cheats and plots also come from installed packages, through the ``prodproven.graders``,
``prodproven.cheats`` and ``prodproven.plots`` entry point groups (see docs/plugins.md). They are
loaded when the plugin manager is first built.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import Any, ClassVar, Protocol, TypeVar

import pluggy
from pydantic import ConfigDict

from prodproven.graders.base import EvaluationEnvironment, Grader, GraderError, GradeResult, Params
from prodproven.runner import hookspecs
from prodproven.runner.errors import ProdprovenError
from prodproven.runner.gate.cheats import Cheat
from prodproven.runner.hookspecs import Plot, hookimpl
from prodproven.runner.spec.challenge import Catalog
from prodproven.sandbox.faults import FaultKind
from prodproven.sandbox.plugin import PROJECT
from prodproven.sandbox.services import ServiceKind

BUILTIN_PLUGINS = (
    "prodproven.graders.builtin",
    "prodproven.sandbox.builtin",
    "prodproven.runner.gate.builtin_cheats",
    "prodproven.runner.present.builtin_plots",
    "prodproven.runner.present.capacity_plots",
    "prodproven.runner.present.review_plots",
)
GRADERS_GROUP = "prodproven.graders"
CHEATS_GROUP = "prodproven.cheats"
PLOTS_GROUP = "prodproven.plots"

Built = TypeVar("Built")
"""What an entry point of one group offers (a cheat, a plot)."""


class AnyParams(Params):
    """Parameters of a stand-in for a broken plugin: any keys, so specs naming it still load."""

    model_config = ConfigDict(extra="allow")


class BrokenPluginGrader(Grader[AnyParams]):
    """Stands in for a grader plugin that could not be loaded: grading with it raises
    GraderError naming the plugin and its problem, so the run records a failed result."""

    Params = AnyParams
    problem: ClassVar[str]

    def grade(self, env: EvaluationEnvironment, params: AnyParams) -> GradeResult:
        raise GraderError(self.problem)


@dataclass(frozen=True, eq=False)
class EntryPointGraders:
    """The graders that installed packages declare in the ``prodproven.graders`` group, as a
    plugin. ``origins`` says where each class came from; ``problems`` lists the entry points
    that were replaced by a BrokenPluginGrader, and why."""

    graders: tuple[type[Grader[Any]], ...]
    origins: Mapping[type[Grader[Any]], str]
    problems: tuple[str, ...]

    @hookimpl
    def register_graders(self) -> list[type[Grader[Any]]]:
        return list(self.graders)


def load_entry_point_graders(entry_points: Iterable[metadata.EntryPoint]) -> EntryPointGraders:
    """Load each entry point (name: the grader's kind, value: ``module:GraderClass``). One that
    fails to load or is not a grader of its kind becomes a BrokenPluginGrader of that kind."""
    graders: list[type[Grader[Any]]] = []
    origins: dict[type[Grader[Any]], str] = {}
    problems: list[str] = []
    for entry_point in entry_points:
        origin = _describe(entry_point)
        try:
            loaded = entry_point.load()
        except Exception as exc:  # a plugin's import error must cost its grader, not the runner
            problem: str | None = f"{origin} failed to load: {type(exc).__name__}: {exc}"
        else:
            problem = _misfit(entry_point.name, loaded, origin)
        if problem is None:
            grader = loaded
        else:
            grader = _stand_in(entry_point.name, problem)
            problems.append(problem)
        graders.append(grader)
        origins[grader] = origin
    return EntryPointGraders(tuple(graders), origins, tuple(problems))


def _describe(entry_point: metadata.EntryPoint, what: str = "grader") -> str:
    dist = entry_point.dist
    source = f"{dist.name} {dist.version}, " if dist is not None else ""
    return f"{what} plugin {entry_point.name!r} ({source}{entry_point.value})"


def _misfit(kind: str, loaded: object, origin: str) -> str | None:
    """Why ``loaded`` cannot serve as the grader of ``kind``, or None when it can."""
    if not (inspect.isclass(loaded) and issubclass(loaded, Grader)):
        return f"{origin} is not a prodproven.graders.base.Grader subclass (it is {loaded!r})"
    if inspect.isabstract(loaded):
        missing = ", ".join(sorted(loaded.__abstractmethods__))
        return f"{origin} does not implement {missing}"
    declared = getattr(loaded, "kind", None)
    if declared != kind:
        return f"{origin} has kind {declared!r}; the entry point's name must be its kind"
    params = getattr(loaded, "Params", None)
    if not (inspect.isclass(params) and issubclass(params, Params)):
        return f"{origin} has no Params model (a prodproven.graders.base.Params subclass)"
    return None


def _stand_in(broken_kind: str, broken_problem: str) -> type[BrokenPluginGrader]:
    class StandIn(BrokenPluginGrader):
        kind = broken_kind
        description = f"broken plugin: {broken_problem}"
        problem = broken_problem

    return StandIn


@dataclass(frozen=True, eq=False)
class EntryPointCheats:
    """The cheats installed packages declare in the ``prodproven.cheats`` group (name: the
    cheat's name, value: ``module:CheatClass``); ``problems`` lists those left out, and why."""

    cheats: tuple[Cheat, ...]
    problems: tuple[str, ...]

    @hookimpl
    def register_cheats(self) -> list[Cheat]:
        return list(self.cheats)


def load_entry_point_cheats(entry_points: Iterable[metadata.EntryPoint]) -> EntryPointCheats:
    def build(name: str, origin: str, loaded: Any) -> Cheat | str:
        cheat = loaded()
        if not isinstance(cheat, Cheat) or cheat.name != name:
            return f"{origin} is not a prodproven.runner.gate.cheats.Cheat named {name!r}"
        return cheat

    cheats, problems = _load_each(entry_points, "cheat", build)
    return EntryPointCheats(cheats, problems)


@dataclass(frozen=True, eq=False)
class EntryPointPlots:
    """The plots installed packages declare in the ``prodproven.plots`` group (name: the grader
    kind, value: ``module:draw``); ``problems`` lists those left out, and why."""

    plots: tuple[Plot, ...]
    problems: tuple[str, ...]

    @hookimpl
    def register_plots(self) -> list[Plot]:
        return list(self.plots)


def load_entry_point_plots(entry_points: Iterable[metadata.EntryPoint]) -> EntryPointPlots:
    def build(name: str, origin: str, loaded: Any) -> Plot | str:
        if not callable(loaded):
            return f"{origin} is not a function drawing figures (it is {loaded!r})"
        return Plot(name, loaded)

    plots, problems = _load_each(entry_points, "plot", build)
    return EntryPointPlots(plots, problems)


def _load_each(
    entry_points: Iterable[metadata.EntryPoint],
    what: str,
    build: Callable[[str, str, Any], Built | str],
) -> tuple[tuple[Built, ...], tuple[str, ...]]:
    """What each entry point offers, built by ``build(name, origin, loaded)``; one that fails to
    load or build, or that ``build`` refuses (a problem string), is left out with its problem.
    A broken plugin is reported, never a crash of the command or page that wanted it."""
    found: list[Built] = []
    problems: list[str] = []
    for entry_point in entry_points:
        origin = _describe(entry_point, what)
        try:
            built = build(entry_point.name, origin, entry_point.load())
        except Exception as exc:
            problems.append(f"{origin} failed to load: {type(exc).__name__}: {exc}")
            continue
        if isinstance(built, str):
            problems.append(built)
        else:
            found.append(built)
    return tuple(found), tuple(problems)


@cache
def entry_point_graders() -> EntryPointGraders:
    return load_entry_point_graders(metadata.entry_points(group=GRADERS_GROUP))


@cache
def entry_point_cheats() -> EntryPointCheats:
    return load_entry_point_cheats(metadata.entry_points(group=CHEATS_GROUP))


@cache
def entry_point_plots() -> EntryPointPlots:
    return load_entry_point_plots(metadata.entry_points(group=PLOTS_GROUP))


@cache
def plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    pm.register(entry_point_graders(), name=GRADERS_GROUP)
    pm.register(entry_point_cheats(), name=CHEATS_GROUP)
    pm.register(entry_point_plots(), name=PLOTS_GROUP)
    return pm


def plugin_problems() -> list[str]:
    """Why installed plugins could not be loaded (a broken grader is graded as a failed
    result; a broken cheat is left out of validation, a broken plot of the run page)."""
    return [
        *entry_point_graders().problems,
        *entry_point_cheats().problems,
        *entry_point_plots().problems,
    ]


class _Kinded(Protocol):
    @property
    def kind(self) -> str: ...


T = TypeVar("T", bound=_Kinded)


def _by_kind(
    batches: Iterable[Iterable[T]], what: str, origin: Callable[[T], str] | None = None
) -> dict[str, T]:
    """Registered objects by their ``kind``; a kind claimed by two objects is an error, naming
    where each came from when ``origin`` can tell."""
    found: dict[str, T] = {}
    for batch in batches:
        for item in batch:
            kind = item.kind
            if kind in found and found[kind] is not item:
                both = f": {origin(found[kind])} and {origin(item)}" if origin else ""
                raise ProdprovenError(f"two plugins register a {what} of kind {kind!r}{both}")
            found[kind] = item
    return found


def _grader_origin(grader: type[Grader[Any]]) -> str:
    """The entry point a grader class came from, or its module and name for a built-in."""
    return entry_point_graders().origins.get(grader) or f"{grader.__module__}.{grader.__qualname__}"


def graders() -> dict[str, type[Grader]]:  # type: ignore[type-arg]
    """Every registered grader class by kind. Raises ProdprovenError on a duplicate kind."""
    return _by_kind(plugin_manager().hook.register_graders(), "grader", _grader_origin)


def services() -> dict[str, ServiceKind]:
    """Every registered service kind by name. Raises ProdprovenError on a duplicate kind."""
    return _by_kind(plugin_manager().hook.register_services(), "service")


def faults() -> dict[str, FaultKind]:
    """Every registered fault kind by name. Raises ProdprovenError on a duplicate kind."""
    return _by_kind(plugin_manager().hook.register_faults(), "fault")


def cheats() -> list[Cheat]:
    """Every registered cheat, built-in ones first. Raises ProdprovenError on a duplicate name."""
    found: dict[str, Cheat] = {}
    for batch in reversed(plugin_manager().hook.register_cheats()):
        for cheat in batch:
            if cheat.name in found:
                raise ProdprovenError(f"two plugins register a cheat named {cheat.name!r}")
            found[cheat.name] = cheat
    return list(found.values())


def plots() -> list[Plot]:
    """Every registered plot, built-in ones first (several may draw for one grader kind)."""
    return [plot for batch in reversed(plugin_manager().hook.register_plots()) for plot in batch]


def catalog() -> Catalog:
    """What specs may name: the installed grader, service and fault kinds."""
    kinds = graders()
    return Catalog(
        grader_params={kind: cls.Params for kind, cls in kinds.items()},
        services=services(),
        faults=faults(),
        grader_conditions={kind: cls.condition_names() for kind, cls in kinds.items()},
    )
