"""Each firm's competency frameworks and role profiles (runner/people/frameworks.py).

A store taken up from before migrations is migrated from the first revision again, with the
tables of later ones present: it keeps them.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    present = set(sa.inspect(op.get_bind()).get_table_names())
    if "frameworks" not in present:
        _frameworks()
    if "role_profiles" not in present:
        _role_profiles()


def _frameworks() -> None:
    op.create_table(
        "frameworks",
        sa.Column("firm", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=254), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("firm", "id"),
    )


def _role_profiles() -> None:
    op.create_table(
        "role_profiles",
        sa.Column("firm", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("framework", sa.String(length=32), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=254), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("firm", "name"),
    )


def downgrade() -> None:
    op.drop_table("role_profiles")
    op.drop_table("frameworks")
