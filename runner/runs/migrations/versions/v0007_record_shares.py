"""Record shares: the link a person gives out to show their valid credentials and current
levels (runner/people/shares.py). Only the SHA-256 of a link's token is stored.

A store taken up from before migrations is migrated from the first revision again, with the
tables of later ones present: it keeps them.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    if "record_shares" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "record_shares",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("candidate_id", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    op.create_index("ix_record_shares_candidate_id", "record_shares", ["candidate_id"])


def downgrade() -> None:
    op.drop_table("record_shares")
