from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from prodproven.runner.config import Settings
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.portal.core import Portal
from prodproven.runner.runs.store import Store
from tests.unit.fakes import FakeRunner, as_runner


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """A new SQLite store of its own for each test."""
    return Store(f"sqlite:///{tmp_path / 'store.db'}")


# the portal (tests/unit/test_portal_*.py) ------------------------------------------------------
@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({}, data_dir=tmp_path)


@pytest.fixture
def runners() -> list[FakeRunner]:
    """Every runner the portal made (it should make one)."""
    return []


@pytest.fixture
def supervised() -> list[tuple[Settings, str, Path]]:
    return []


@pytest.fixture
def portal(
    settings: Settings,
    store: Store,
    tmp_path: Path,
    runners: list[FakeRunner],
    supervised: list[tuple[Settings, str, Path]],
) -> Portal:
    def factory(report: Callable[[str], None]) -> Runner:
        runner = FakeRunner(store, tmp_path / "runs", report)
        runners.append(runner)
        return as_runner(runner)

    def supervise(settings: Settings, run_id: str, log: Path) -> int:
        supervised.append((settings, run_id, log))
        return 4242

    return Portal(settings, store, runner=factory, supervise=supervise)
