"""Admission and the warm pool: what each run holding a pod reserves, the one row every
admission decision locks first, and the warm pods with the room each holds
(runner/lifecycle/admission.py, runner/lifecycle/pool.py).

A store taken up from before migrations that has these tables already (made by
``create_all`` before it was stamped) keeps them.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    present = set(sa.inspect(op.get_bind()).get_table_names())
    if "reservations" not in present:
        _reservations()
    if "admission_turns" not in present:
        _admission_turns()
    if "pool_pods" not in present:
        _pool_pods()


def _reservations() -> None:
    op.create_table(
        "reservations",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("memory_bytes", sa.BigInteger(), nullable=False),
        sa.Column("cpus", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"]),
        sa.PrimaryKeyConstraint("run_id"),
    )


def _admission_turns() -> None:
    op.create_table(
        "admission_turns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("turns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(
        sa.table("admission_turns", sa.column("id", sa.Integer), sa.column("turns", sa.BigInteger)),
        [{"id": 1, "turns": 0}],
    )


def _pool_pods() -> None:
    op.create_table(
        "pool_pods",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("challenge_id", sa.String(length=64), nullable=False),
        sa.Column("challenge_version", sa.String(length=32), nullable=False),
        sa.Column("image", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("memory_bytes", sa.BigInteger(), nullable=False),
        sa.Column("cpus", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("run_id"),
    )
    op.create_index("ix_pool_pods_challenge_id", "pool_pods", ["challenge_id"])
    op.create_index("ix_pool_pods_state", "pool_pods", ["state"])


def downgrade() -> None:
    op.drop_table("pool_pods")
    op.drop_table("admission_turns")
    op.drop_table("reservations")
