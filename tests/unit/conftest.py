from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from prodproven.runner.config import Settings
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.portal.core import Portal
from prodproven.runner.runs.store import Store
from tests import postgres
from tests.unit.fakes import FakeRunner, as_runner

ON_POSTGRESQL = (
    "test_store",
    "test_storefile",
    "test_migrations",
    "test_portal_",
    "test_start",
    "test_submit",
    "test_recovery",
    "test_supervisor",
    "test_admission",
    "test_reviews",
    "test_retention",
)
"""The suites whose ``store`` runs on PostgreSQL too (the store's, the portal's, a run's life,
reviews; test_connect.py uses the server itself): every suite there would add about half
again to the unit tests' time."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database_url" in metafunc.fixturenames:
        module = metafunc.module.__name__.rpartition(".")[2]
        both = module.startswith(ON_POSTGRESQL)
        backends = ["sqlite", "postgresql"] if both else ["sqlite"]
        metafunc.parametrize("database_url", backends, indirect=True)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty store's URL for each test: on SQLite, and for ON_POSTGRESQL's suites on
    PostgreSQL too (``tests/postgres.py``)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    server: postgres.Server = request.getfixturevalue("postgres_server")
    with server.database() as url:
        yield url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A new store of its own for each test (on each database)."""
    made = Store(database_url)
    yield made
    made.engine.dispose()


# the portal (tests/unit/test_portal_*.py) ------------------------------------------------------
@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({}, data_dir=tmp_path)


@pytest.fixture
def runners() -> list[FakeRunner]:
    """Every runner the portal made (it should make one)."""
    return []


@pytest.fixture
def supervised() -> list[Settings]:
    """The settings of each call that made sure the data directory's supervisor runs."""
    return []


@pytest.fixture
def portal(
    settings: Settings,
    store: Store,
    tmp_path: Path,
    runners: list[FakeRunner],
    supervised: list[Settings],
) -> Portal:
    def factory(report: Callable[[str], None]) -> Runner:
        runner = FakeRunner(store, tmp_path / "runs", report)
        runners.append(runner)
        return as_runner(runner)

    def supervise(settings: Settings) -> int:
        supervised.append(settings)
        return 4242

    return Portal(settings, store, runner=factory, supervise=supervise)
