from __future__ import annotations

import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest
import yaml

from prodproven.runner import plugins
from prodproven.runner.spec.challenge import Catalog

if TYPE_CHECKING:
    from tests import postgres

REPO_ROOT = Path(__file__).resolve().parents[1]
"""The checkout, for tests that read its files (docs, example plugins, fixtures); runtime code
never looks for it: it finds its own files as package data."""
BUILTIN = REPO_ROOT / "challenges"
SLO_LAB = REPO_ROOT / "tests" / "integration" / "labs" / "slo-lab"
"""A challenge with a live service, a prober, faults and a schedule of incidents; its image
recipe is deploy-model's."""

SpecChange = Callable[[dict[str, Any]], object]
"""Edits a challenge.yaml, loaded as a dict, in place (what it returns is ignored)."""


def free_port() -> int:
    """A TCP port free on the loopback right now (the OS picks it; bind it soon)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


class MakeLab(Protocol):
    """The ``make_lab`` fixture."""

    def __call__(self, change: SpecChange | None = None) -> Path: ...


@pytest.fixture
def make_lab(tmp_path: Path) -> MakeLab:
    """A copy of the slo-lab challenge (with deploy-model's image recipe) whose challenge.yaml
    is edited by ``change``."""

    def make(change: SpecChange | None = None) -> Path:
        root = tmp_path / "slo-lab"
        if root.exists():
            shutil.rmtree(root)
        shutil.copytree(SLO_LAB, root)
        shutil.copytree(BUILTIN / "deploy-model" / "image", root / "image")
        if change is not None:
            spec_path = root / "challenge.yaml"
            spec = yaml.safe_load(spec_path.read_text())
            change(spec)
            spec_path.write_text(yaml.safe_dump(spec))
        return root

    return make


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[postgres.Server]:
    """A PostgreSQL server for this test process (``tests/postgres.py``)."""
    from tests import postgres  # it imports this module

    with postgres.server() as found:
        yield found
