from __future__ import annotations

from pathlib import Path

import pytest

from prodproven.runner.runs.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """A new SQLite store of its own for each test."""
    return Store(f"sqlite:///{tmp_path / 'store.db'}")
