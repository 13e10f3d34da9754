"""E-mail digests of notifications.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notification") as batch:
        batch.add_column(sa.Column("email_status", sa.String(16), nullable=True))
        batch.add_column(sa.Column("email_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("email_next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("email_error", sa.String(500), nullable=True))
    op.create_index("ix_notification_email_status", "notification", ["email_status"])
    with op.batch_alter_table("platform") as batch:
        batch.add_column(sa.Column("last_email_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("platform") as batch:
        batch.drop_column("last_email_at")
    with op.batch_alter_table("notification") as batch:
        batch.drop_column("email_error")
        batch.drop_column("email_next_attempt_at")
        batch.drop_column("email_attempts")
        batch.drop_column("email_status")
