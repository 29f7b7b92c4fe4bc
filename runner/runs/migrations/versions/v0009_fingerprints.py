"""Each run's winnowing fingerprints, for the similarity check (runner/similarity/store.py).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    if "run_fingerprints" in set(sa.inspect(op.get_bind()).get_table_names()):
        return
    op.create_table(
        "run_fingerprints",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("challenge_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("archive_sha256", sa.String(length=64), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("marks", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"]),
        sa.PrimaryKeyConstraint("run_id"),
    )
    op.create_index("ix_run_fingerprints_challenge_id", "run_fingerprints", ["challenge_id"])


def downgrade() -> None:
    op.drop_table("run_fingerprints")
