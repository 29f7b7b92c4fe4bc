"""The store's schema: the Alembic migrations of ``migrations/`` (package data, no
alembic.ini), applied whenever a store opens.

A store already at the newest revision costs one query. Otherwise the migrations run in one
transaction holding a lock every opener takes first (PostgreSQL's advisory lock, SQLite's
write lock), so processes opening a new store at once wait for the first instead of creating
the same tables. A store made before migrations (its tables, no ``alembic_version``) is taken
up by the first revision, which makes what is missing (docs/operations.md, "Migrations").
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).parent / "migrations"

LOCK_KEY = 0x70726F6476656E
"""PostgreSQL's advisory lock key for migrating (any number the installation does not use
otherwise: "prodven" in ASCII)."""


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@cache
def head() -> str:
    """The newest revision."""
    found = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert found is not None, f"no migrations in {MIGRATIONS}"
    return found


def revision(connection: Connection) -> str | None:
    """The revision the store's database is at (None before any migration)."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Bring the store's database to :func:`head`."""
    with engine.connect() as connection:
        if revision(connection) == head():
            return
    with engine.connect() as connection:
        _lock(connection)
        config = _config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        connection.commit()


def _lock(connection: Connection) -> None:
    """Take the migration lock for the transaction ``connection`` begins here."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        # pysqlite begins transactions lazily and never before DDL: take the write lock now
        connection.exec_driver_sql("BEGIN IMMEDIATE")
