"""The schema of the first release with migrations: every table as the row classes declared
it then (runner/runs/store.py, runner/people/, runner/credentials/).

A store made before migrations (its tables made by ``create_all`` as the modules were used)
is brought here too: missing tables are made and missing columns added (nullable, as the
stores of that time grew), then it is stamped like any other.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

SCHEMA = sa.MetaData()

sa.Table(
    "assessors",
    SCHEMA,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("email", sa.String(length=254), nullable=False),
    sa.Column("name", sa.String(length=200), nullable=False),
    sa.Column("firm", sa.String(length=64), nullable=False),
    sa.Column("password_hash", sa.Text(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("email"),
    sa.Index("ix_assessors_firm", "firm"),
)
sa.Table(
    "audit_log",
    SCHEMA,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(length=254), nullable=False),
    sa.Column("action", sa.String(length=64), nullable=False),
    sa.Column("subject", sa.String(length=64), nullable=False),
    sa.Column("data", sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_audit_log_action", "action"),
    sa.Index("ix_audit_log_actor", "actor"),
    sa.Index("ix_audit_log_subject", "subject"),
)
sa.Table(
    "candidates",
    SCHEMA,
    sa.Column("id", sa.String(length=16), nullable=False),
    sa.Column("name", sa.String(length=200), nullable=False),
    sa.Column("email", sa.String(length=254), nullable=True),
    sa.Column("external_id", sa.String(length=200), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("forgotten_at", sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_candidates_name", "name", unique=True),
)
sa.Table(
    "credential_status",
    SCHEMA,
    sa.Column("credential_id", sa.String(length=64), nullable=False),
    sa.Column("list_index", sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint("credential_id"),
    sa.UniqueConstraint("list_index"),
)
sa.Table(
    "credentials",
    SCHEMA,
    sa.Column("id", sa.String(length=64), nullable=False),
    sa.Column("run_id", sa.String(length=32), nullable=False),
    sa.Column("candidate", sa.String(length=200), nullable=False),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
    sa.Column("document", sa.Text(), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_by", sa.String(length=254), nullable=True),
    sa.Column("revoke_reason", sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_credentials_candidate", "candidate"),
    sa.Index("ix_credentials_run_id", "run_id"),
)
sa.Table(
    "invitations",
    SCHEMA,
    sa.Column("id", sa.String(length=16), nullable=False),
    sa.Column("firm", sa.String(length=64), nullable=False),
    sa.Column("challenge_id", sa.String(length=64), nullable=False),
    sa.Column("candidate_name", sa.String(length=200), nullable=False),
    sa.Column("candidate_email", sa.String(length=254), nullable=False),
    sa.Column("created_by", sa.String(length=254), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("digest", sa.String(length=64), nullable=False),
    sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("run_id", sa.String(length=32), nullable=True),
    sa.Column("variant", sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("digest"),
    sa.Index("ix_invitations_firm", "firm"),
    sa.Index("ix_invitations_run_id", "run_id"),
)
sa.Table(
    "runs",
    SCHEMA,
    sa.Column("id", sa.String(length=32), nullable=False),
    sa.Column("challenge_id", sa.String(length=64), nullable=False),
    sa.Column("challenge_version", sa.String(length=32), nullable=False),
    sa.Column("challenge_path", sa.Text(), nullable=False),
    sa.Column("candidate", sa.String(length=200), nullable=False),
    sa.Column("mode", sa.String(length=16), nullable=False),
    sa.Column("variant", sa.Integer(), nullable=True),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("graded_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("archive_path", sa.Text(), nullable=True),
    sa.Column("archive_sha256", sa.String(length=64), nullable=True),
    sa.Column("service_archives", sa.JSON(), nullable=True),
    sa.Column("score", sa.Float(), nullable=True),
    sa.Column("result", sa.JSON(), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("grading_attempts", sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_runs_candidate", "candidate"),
    sa.Index("ix_runs_challenge_id", "challenge_id"),
    sa.Index("ix_runs_status", "status"),
)
sa.Table(
    "sign_in_counters",
    SCHEMA,
    sa.Column("key", sa.String(length=300), nullable=False),
    sa.Column("failures", sa.Integer(), nullable=False),
    sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint("key"),
    sa.Index("ix_sign_in_counters_last_at", "last_at"),
)
sa.Table(
    "web_sessions",
    SCHEMA,
    sa.Column("digest", sa.String(length=64), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("subject", sa.String(length=64), nullable=False),
    sa.Column("csrf", sa.String(length=64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("digest"),
    sa.Index("ix_web_sessions_subject", "subject"),
)
sa.Table(
    "api_tokens",
    SCHEMA,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("assessor_id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(length=200), nullable=False),
    sa.Column("digest", sa.String(length=64), nullable=False),
    sa.Column("scopes", sa.String(length=200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(["assessor_id"], ["assessors.id"]),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("digest"),
    sa.Index("ix_api_tokens_assessor_id", "assessor_id"),
)
sa.Table(
    "artifacts",
    SCHEMA,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("run_id", sa.String(length=32), nullable=False),
    sa.Column("name", sa.String(length=200), nullable=False),
    sa.Column("path", sa.Text(), nullable=False),
    sa.Column("sha256", sa.String(length=64), nullable=False),
    sa.Column("size", sa.Integer(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["run_id"], ["runs.id"]),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_artifacts_run_id", "run_id"),
)
sa.Table(
    "events",
    SCHEMA,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("run_id", sa.String(length=32), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("kind", sa.String(length=64), nullable=False),
    sa.Column("data", sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(["run_id"], ["runs.id"]),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_events_run_id", "run_id"),
)
sa.Table(
    "probe_samples",
    SCHEMA,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("run_id", sa.String(length=32), nullable=False),
    sa.Column("seq", sa.Integer(), nullable=False),
    sa.Column("t", sa.Float(), nullable=False),
    sa.Column("status", sa.Integer(), nullable=True),
    sa.Column("latency_ms", sa.Float(), nullable=True),
    sa.Column("correct", sa.Boolean(), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(["run_id"], ["runs.id"]),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("run_id", "seq"),
    sa.Index("ix_probe_samples_run_id", "run_id"),
)
sa.Table(
    "reviews",
    SCHEMA,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("run_id", sa.String(length=32), nullable=False),
    sa.Column("author", sa.String(length=254), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("score", sa.Float(), nullable=True),
    sa.Column("previous_score", sa.Float(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["run_id"], ["runs.id"]),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_reviews_run_id", "run_id"),
)


def upgrade() -> None:
    bind = op.get_bind()
    present = set(sa.inspect(bind).get_table_names())
    SCHEMA.create_all(bind, tables=[t for t in SCHEMA.sorted_tables if t.name not in present])
    for table in SCHEMA.sorted_tables:
        if table.name in present:
            found = {c["name"] for c in sa.inspect(bind).get_columns(table.name)}
            for column in table.columns:
                if column.name not in found:
                    op.add_column(table.name, sa.Column(column.name, column.type, nullable=True))


def downgrade() -> None:
    SCHEMA.drop_all(op.get_bind())
