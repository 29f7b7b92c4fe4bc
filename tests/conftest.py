from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import pytest
import yaml

from prodproven.runner import plugins
from prodproven.runner.spec.challenge import Catalog

REPO_ROOT = Path(__file__).resolve().parents[1]
"""The checkout, for tests that read its files (docs, example plugins, fixtures); runtime code
never looks for it: it finds its own files as package data."""
BUILTIN = REPO_ROOT / "challenges"

SpecChange = Callable[[dict[str, Any]], object]
"""Edits a challenge.yaml, loaded as a dict, in place (what it returns is ignored)."""


class MakeChallenge(Protocol):
    """The ``make_challenge`` fixture: a fresh copy of deploy-model's folder, its
    challenge.yaml edited by ``change`` or replaced by ``raw``."""

    def __call__(self, change: SpecChange | None = None, *, raw: str | None = None) -> Path: ...


@pytest.fixture
def catalog() -> Catalog:
    return plugins.catalog()


@pytest.fixture
def make_challenge(tmp_path: Path) -> MakeChallenge:
    """A copy of deploy-model's folder whose challenge.yaml is edited by ``change``."""

    def make(change: SpecChange | None = None, *, raw: str | None = None) -> Path:
        root = tmp_path / "deploy-model"
        if root.exists():
            shutil.rmtree(root)
        shutil.copytree(BUILTIN / "deploy-model", root)
        spec_path = root / "challenge.yaml"
        if raw is not None:
            spec_path.write_text(raw)
        elif change is not None:
            spec = yaml.safe_load(spec_path.read_text())
            change(spec)
            spec_path.write_text(yaml.safe_dump(spec))
        return root

    return make
