"""Re-certification campaigns and their steps (runner/people/campaigns.py).

A store taken up from before migrations is migrated from the first revision again, with the
tables of later ones present: it keeps them.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    present = set(sa.inspect(op.get_bind()).get_table_names())
    if "campaigns" not in present:
        _campaigns()
    if "campaign_steps" not in present:
        _steps()


def _campaigns() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("firm", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("team", sa.String(length=100), nullable=True),
        sa.Column("people", sa.JSON(), nullable=False),
        sa.Column("challenge", sa.String(length=64), nullable=True),
        sa.Column("competency", sa.String(length=200), nullable=True),
        sa.Column("cadence_months", sa.Integer(), nullable=True),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("remind_days", sa.Integer(), nullable=True),
        sa.Column("lapse_remind_days", sa.Integer(), nullable=True),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("firm", "name"),
    )
    op.create_index("ix_campaigns_firm", "campaigns", ["firm"])


def _steps() -> None:
    op.create_table(
        "campaign_steps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.String(length=16), nullable=False),
        sa.Column("candidate_id", sa.String(length=16), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claims", sa.Integer(), nullable=False),
        sa.Column("invitation_id", sa.String(length=16), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "candidate_id", "cycle", "kind"),
    )
    for column in ("campaign_id", "candidate_id", "due_at"):
        op.create_index(f"ix_campaign_steps_{column}", "campaign_steps", [column])


def downgrade() -> None:
    op.drop_table("campaign_steps")
    op.drop_table("campaigns")
