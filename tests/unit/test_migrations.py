"""The store's schema comes from its migrations (runner/runs/schema.py, runner/runs/migrations/):
they make exactly what the row classes declare on each database, and a store made before
migrations is taken up (processes opening a new store at once:
tests/integration/test_store_concurrency.py)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from prodproven.runner.runs import schema
from prodproven.runner.runs.store import Base, Store
from tests.unit.test_errors import every_module


def test_the_migrations_make_exactly_the_tables_of_every_row_class(store: Store) -> None:
    every_module()  # every row class, wherever it is declared
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == [], "write a migration for these (docs/operations.md, 'Migrations')"


def test_a_new_store_is_at_the_newest_revision(store: Store) -> None:
    with store.engine.connect() as connection:
        assert schema.revision(connection) == schema.head()


def test_a_store_made_before_migrations_gets_its_missing_tables_and_columns(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    Store(url).engine.dispose()
    with sqlalchemy.create_engine(url).begin() as old:  # as create_all left stores before
        for statement in (
            "DROP TABLE alembic_version",
            "DROP TABLE reviews",
            "ALTER TABLE runs DROP COLUMN error",
        ):
            old.execute(sqlalchemy.text(statement))
    store = Store(url)
    inspector = sqlalchemy.inspect(store.engine)
    assert "reviews" in inspector.get_table_names()
    assert "error" in {c["name"] for c in inspector.get_columns("runs")}
    with store.engine.connect() as connection:
        assert schema.revision(connection) == schema.head()
