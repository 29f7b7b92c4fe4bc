"""The code keeps the shape docs/architecture.md draws: imports run one way down the layer table,
no two modules import each other (directly or round a loop), no module is over 500 lines and no
class has more than 20 public methods."""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PACKAGES = {
    "runner": "prodproven.runner",
    "sandbox": "prodproven.sandbox",
    "graders": "prodproven.graders",
}
CONTAINER_SIDE = ("graders/probes", "sandbox/scripts")
"""Scripts that run inside containers, not on the host: not part of the import graph."""
PLUGIN_MODULES = {"prodproven.runner.hookspecs", "prodproven.runner.plugins"}
MAX_LINES = 500
MAX_PUBLIC_METHODS = 20


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int


def modules(root: Path, packages: Mapping[str, str]) -> dict[str, Path]:
    """Every host-side module under ``root``'s package folders, by its installed name."""
    found: dict[str, Path] = {}
    for folder, name in packages.items():
        for path in sorted((root / folder).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if rel.startswith(CONTAINER_SIDE):
                continue
            parts = path.relative_to(root / folder).with_suffix("").parts
            dotted = ".".join((name, *parts)).removesuffix(".__init__")
            found[dotted] = path
    return found


def imports(found: Mapping[str, Path]) -> Iterator[Import]:
    """Each import of one of ``found``'s modules by another (``from pkg import mod`` counts as
    importing ``pkg.mod``), type-checking-only imports included."""
    for source, path in found.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [
                    f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in found else node.module
                    for a in node.names
                ]
            else:
                continue
            for target in targets:
                if target in found and target != source:
                    yield Import(source, target, node.lineno)


def layer(module: str) -> str:
    """The layer of the architecture table a module belongs to."""
    if module in PLUGIN_MODULES:
        return "runner.plugins"
    parts = module.split(".")[1:]
    if parts[0] != "runner":
        return parts[0]
    if len(parts) > 2 or (len(parts) == 2 and not _is_module_file(parts[1])):
        return f"runner.{parts[1]}"
    return "runner"


def _is_module_file(name: str) -> bool:
    return (REPO_ROOT / "runner" / f"{name}.py").is_file()


def layer_table(text: str) -> dict[str, set[str]]:
    """The table after ``<!-- layers -->`` in docs/architecture.md: layer -> layers it may
    import ("every layer above" means every row before it)."""
    rows = text.split("<!-- layers:", 1)[1].split("\n\n", 1)[0].splitlines()[3:]
    table: dict[str, set[str]] = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        name = cells[0].strip("`")
        allowed = (
            set(table)
            if cells[-1] == "every layer above"
            else set(re.findall(r"`([\w.]+)`", cells[-1]))
        )
        table[name] = allowed
    return table


def forbidden(found: Mapping[str, Path], table: Mapping[str, set[str]]) -> list[str]:
    return [
        f"{i.source} (line {i.line}) imports {i.target}: "
        f"{layer(i.source)} may not import {layer(i.target)}"
        for i in imports(found)
        if layer(i.target) != layer(i.source) and layer(i.target) not in table[layer(i.source)]
    ]


def cycles(found: Mapping[str, Path]) -> list[list[str]]:
    """Import cycles between modules (strongly connected components of two or more)."""
    graph: dict[str, set[str]] = {name: set() for name in found}
    for i in imports(found):
        graph[i.source].add(i.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def public_methods(path: Path) -> Iterator[tuple[str, int]]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ClassDef):
            count = sum(
                1
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                and not item.name.startswith("_")
            )
            yield node.name, count


FOUND = modules(REPO_ROOT, PACKAGES)


def test_every_layer_of_the_code_is_in_the_table() -> None:
    table = layer_table((REPO_ROOT / "docs" / "architecture.md").read_text())
    assert {layer(m) for m in FOUND} <= set(table), "a layer is missing from architecture.md"


def test_imports_run_one_way_down_the_table() -> None:
    table = layer_table((REPO_ROOT / "docs" / "architecture.md").read_text())
    assert forbidden(FOUND, table) == []


def test_no_module_imports_itself_round_a_loop() -> None:
    assert cycles(FOUND) == []


@pytest.mark.parametrize("name", sorted(FOUND))
def test_no_module_is_over_500_lines(name: str) -> None:
    lines = len(FOUND[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{FOUND[name]} has {lines} lines"


def test_no_class_has_more_than_20_public_methods() -> None:
    big = [
        f"{path}: {cls} has {count}"
        for path in FOUND.values()
        for cls, count in public_methods(path)
        if count > MAX_PUBLIC_METHODS
    ]
    assert big == []


# The checks themselves, on planted code.


def plant(root: Path, files: Mapping[str, str]) -> dict[str, Path]:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return modules(root, {"sandbox": "prodproven.sandbox", "graders": "prodproven.graders"})


def test_a_planted_cycle_is_found(tmp_path: Path) -> None:
    found = plant(
        tmp_path,
        {
            "sandbox/__init__.py": "",
            "sandbox/a.py": "from prodproven.sandbox import b\n",
            "sandbox/b.py": "from prodproven.sandbox.c import thing\n",
            "sandbox/c.py": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from prodproven.sandbox.a import other\n",
        },
    )
    assert cycles(found) == [
        ["prodproven.sandbox.a", "prodproven.sandbox.b", "prodproven.sandbox.c"]
    ]


def test_a_planted_upward_import_is_refused(tmp_path: Path) -> None:
    found = plant(
        tmp_path,
        {
            "sandbox/__init__.py": "",
            "sandbox/pods.py": "from prodproven.graders.base import Grader\n",
            "graders/__init__.py": "",
            "graders/base.py": "from prodproven.sandbox import pods\n",
        },
    )
    table = {"sandbox": set[str](), "graders": {"sandbox"}}
    assert forbidden(found, table) == [
        "prodproven.sandbox.pods (line 1) imports prodproven.graders.base: "
        "sandbox may not import graders"
    ]


def test_the_table_reads_every_layer_above() -> None:
    text = (
        "<!-- layers: x -->\n| layer | what | may import |\n|---|---|---|\n"
        "| `a` | . | nothing |\n| `b` | . | `a` |\n| `c` | . | every layer above |\n\nafter"
    )
    assert layer_table(text) == {"a": set(), "b": {"a"}, "c": {"a", "b"}}


def test_the_wheel_lists_every_package_of_the_code() -> None:
    """setuptools takes only the packages pyproject.toml names: one left out installs without
    its modules (a checkout's editable install does not show it; the wheel test does)."""
    listed = set(
        tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    for folder, package in PACKAGES.items():
        for init in (REPO_ROOT / folder).rglob("__init__.py"):
            if "__pycache__" in init.parts:
                continue
            parts = init.parent.relative_to(REPO_ROOT / folder).parts
            assert ".".join((package, *parts)) in listed, f"{init.parent} is not in pyproject.toml"
