"""One tree of errors: every error class of prodproven is in the tree runner/errors.py
documents, under its documented parent and in its documented module, and the document names
no class that does not exist."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from types import ModuleType

import pytest

from prodproven.runner import errors
from prodproven.sandbox.errors import ProdprovenError

NOT_IMPORTABLE = ("prodproven.graders.probes.", "prodproven.sandbox.scripts.")
"""Scripts that run inside containers, with their libraries (locust, mlflow) and input, not
the runner's."""


PACKAGES = ("prodproven.runner", "prodproven.sandbox", "prodproven.graders")


def every_module() -> list[ModuleType]:
    found = []
    for name in PACKAGES:
        package = importlib.import_module(name)
        found.append(package)
        for info in pkgutil.walk_packages(package.__path__, f"{name}."):
            if info.name.endswith(".__main__") or info.name.startswith(NOT_IMPORTABLE):
                continue
            found.append(importlib.import_module(info.name))
    return found


def defined_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class a prodproven module defines, by name."""
    return {
        cls.__name__: cls
        for module in every_module()
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, BaseException) and cls.__module__ == module.__name__
    }


def blocks() -> list[list[str]]:
    """The literal blocks (after ``::``) of the errors module's docstring, as lines."""
    doc = errors.__doc__ or ""
    return [
        [line[4:] for line in block.strip("\n").splitlines()]
        for block in re.findall(r"::\n\n((?:    .*\n|\n)+)", doc)
    ]


def documented_tree() -> dict[str, str | None]:
    """Each class of the documented tree and its parent (None for the root)."""
    parents: dict[str, str | None] = {}
    stack: list[str] = []
    for line in blocks()[0]:
        name = re.search(r"\w+", line)
        assert name is not None, f"not a tree line: {line!r}"
        depth = name.start() // 4
        stack[depth:] = [name.group()]
        parents[name.group()] = stack[depth - 1] if depth else None
    return parents


def documented_modules() -> dict[str, str]:
    """The module of each class the docstring says lives outside runner/errors.py."""
    found = {}
    for block in blocks()[1:]:
        for line in block:
            if match := re.match(r"(\w+)\s+(prodproven\.)?([\w.]+\w)", line):
                found[match.group(1)] = f"prodproven.{match.group(3)}"
    return found


def tree_classes() -> dict[str, type[BaseException]]:
    classes = defined_exceptions()
    return {name: cls for name, cls in classes.items() if issubclass(cls, ProdprovenError)}


def test_the_tree_has_one_root() -> None:
    roots = [name for name, parent in documented_tree().items() if parent is None]
    assert roots == ["ProdprovenError"]


@pytest.mark.parametrize("name", sorted(tree_classes()))
def test_every_error_class_is_in_the_documented_tree_under_its_parent(name: str) -> None:
    cls = tree_classes()[name]
    tree = documented_tree()
    assert name in tree, f"{name} ({cls.__module__}) is missing from runner/errors.py's tree"
    parent = tree[name]
    if parent is not None:
        assert cls.__bases__[0].__name__ == parent


@pytest.mark.parametrize("name", sorted(tree_classes()))
def test_every_error_class_lives_where_the_document_says(name: str) -> None:
    module = tree_classes()[name].__module__
    assert module == documented_modules().get(name, errors.__name__)


def test_the_document_names_no_class_that_does_not_exist() -> None:
    classes = defined_exceptions()
    named = set(documented_tree()) | set(documented_modules())
    assert sorted(named - set(classes)) == []


def test_exceptions_outside_the_tree_are_documented_as_such() -> None:
    outside = {n for n, c in defined_exceptions().items() if not issubclass(c, ProdprovenError)}
    documented = set(documented_modules()) - set(documented_tree())
    assert outside == documented
