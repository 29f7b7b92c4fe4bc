"""Accommodations: the extra time an invitation grants, in minutes or as a percentage of the
challenge's time limit (runner/people/invitations.py).

A store whose invitations table has the columns already (made by ``create_all`` before it was
stamped) keeps them.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

COLUMNS = ("extra_minutes", "extra_percent")


def upgrade() -> None:
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("invitations")}
    for name in COLUMNS:
        if name not in present:
            op.add_column("invitations", sa.Column(name, sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invitations") as batch:
        for name in COLUMNS:
            batch.drop_column(name)
