"""Platform lifecycle and programmes: province administrator keys, applications and their review, fresh profiles,
the audit trail and assignment runs.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _id() -> sa.Column:
    identity = [sa.Identity()] if op.get_bind().dialect.name == "postgresql" else []
    return sa.Column("id", sa.Integer(), *identity, primary_key=True)


def _when(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("api_key") as batch:
        batch.add_column(sa.Column("province", sa.String(32), nullable=True))
        batch.add_column(sa.Column("label", sa.String(200), nullable=True))
        batch.create_index("ix_api_key_province", ["province"])
    with op.batch_alter_table("platform") as batch:
        for column in ("confirmed_at", "edited_at", "stale_reminded_at", "stale_since"):
            batch.add_column(_when(column, nullable=True))
        batch.create_index("ix_platform_stale_since", ["stale_since"])
    op.execute("UPDATE platform SET edited_at = updated_at")
    _applications()
    _audit()
    _assignments()


def _applications() -> None:
    op.create_table(
        "platform_application",
        _id(),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("province", sa.String(32), nullable=True),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.Column("applicant_contact", sa.String(300), nullable=False),
        sa.Column("revision_of", sa.Integer(), nullable=True),
        sa.Column("key_hash", sa.String(64), nullable=True),
        sa.Column("key_prefix", sa.String(24), nullable=True),
        sa.Column("held_because", sa.JSON(), nullable=False),
        sa.Column("published", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(2000), nullable=True),
        sa.Column("platform_id", sa.Integer(), nullable=True),
        _when("key_shown_at", nullable=True),
        sa.Column("reviewed_by", sa.String(64), nullable=True),
        _when("reviewed_at", nullable=True),
        _when("created_at"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_platform_application_token_hash", "platform_application", ["token_hash"], unique=True)
    for column in ("status", "province", "revision_of", "platform_id", "created_at"):
        op.create_index(f"ix_platform_application_{column}", "platform_application", [column])


def _audit() -> None:
    op.create_table(
        "audit_event",
        _id(),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(16), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor_kind", sa.String(24), nullable=False),
        sa.Column("actor_key_id", sa.Integer(), nullable=True),
        sa.Column("actor_platform_id", sa.Integer(), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=False),
        _when("at"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_event_platform_id", "audit_event", ["platform_id"])
    op.create_index("ix_audit_event_at", "audit_event", ["at"])


def _assignments() -> None:
    op.create_table(
        "assignment_run",
        _id(),
        sa.Column("province", sa.String(32), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        _when("notified_at", nullable=True),
        _when("created_at"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_assignment_run_province", "assignment_run", ["province"])
    op.create_index("ix_assignment_run_created_at", "assignment_run", ["created_at"])


def downgrade() -> None:
    for table in ("assignment_run", "audit_event", "platform_application"):
        op.drop_table(table)
    with op.batch_alter_table("platform") as batch:
        batch.drop_index("ix_platform_stale_since")
        for column in ("stale_since", "stale_reminded_at", "edited_at", "confirmed_at"):
            batch.drop_column(column)
    with op.batch_alter_table("api_key") as batch:
        batch.drop_index("ix_api_key_province")
        batch.drop_column("label")
        batch.drop_column("province")
