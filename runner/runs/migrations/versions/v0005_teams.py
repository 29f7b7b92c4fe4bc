"""Each firm's teams and their members (runner/people/teams.py).

A store taken up from before migrations is migrated from the first revision again, with the
tables of later ones present: it keeps them.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    present = set(sa.inspect(op.get_bind()).get_table_names())
    if "teams" not in present:
        _teams()
    if "team_members" not in present:
        _team_members()


def _teams() -> None:
    op.create_table(
        "teams",
        sa.Column("firm", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("role_profiles", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=254), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("firm", "name"),
    )


def _team_members() -> None:
    op.create_table(
        "team_members",
        sa.Column("firm", sa.String(length=64), nullable=False),
        sa.Column("team", sa.String(length=100), nullable=False),
        sa.Column("candidate_id", sa.String(length=16), nullable=False),
        sa.Column("added_by", sa.String(length=254), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("firm", "team", "candidate_id"),
    )


def downgrade() -> None:
    op.drop_table("team_members")
    op.drop_table("teams")
