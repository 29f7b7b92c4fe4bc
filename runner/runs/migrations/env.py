"""Alembic's environment for the store's migrations, run by ``runner/runs/schema.py`` on the
connection of the store being opened (in its transaction, holding the migration lock).

There is no ``target_metadata``: revisions are written by hand, and
tests/unit/test_migrations.py compares the migrated schema with every row class.
"""

from __future__ import annotations

from alembic import context


def run() -> None:
    context.configure(connection=context.config.attributes["connection"])
    with context.begin_transaction():
        context.run_migrations()


run()
