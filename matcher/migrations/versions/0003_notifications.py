"""Notifications outbox, webhooks, per-platform notification settings and match bookkeeping.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("platform") as batch:
        batch.add_column(sa.Column("notify_top_k", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("notify_min_score", sa.Float(), nullable=True))
        batch.add_column(sa.Column("needs_matching", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("technology") as batch:
        batch.add_column(sa.Column("needs_matching", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index("ix_platform_needs_matching", "platform", ["needs_matching"])
    op.create_index("ix_technology_needs_matching", "technology", ["needs_matching"])
    _notification()
    _webhook_endpoint()
    _webhook_delivery()
    _webhook_attempt()


def _notification() -> None:
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "platform_id", sa.Integer(), sa.ForeignKey("platform.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "technology_id", sa.Integer(), sa.ForeignKey("technology.id", ondelete="CASCADE"), nullable=True
        ),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("platform_id", "technology_id", "type", name="uq_notification_pair"),
    )
    op.create_index("ix_notification_platform_id", "notification", ["platform_id"])
    op.create_index("ix_notification_created_at", "notification", ["created_at"])


def _webhook_endpoint() -> None:
    op.create_table(
        "webhook_endpoint",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "platform_id", sa.Integer(), sa.ForeignKey("platform.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("description", sa.String(300), nullable=True),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(300), nullable=True),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_webhook_endpoint_platform_id", "webhook_endpoint", ["platform_id"])


def _webhook_delivery() -> None:
    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "notification_id",
            sa.Integer(),
            sa.ForeignKey("notification.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "endpoint_id",
            sa.Integer(),
            sa.ForeignKey("webhook_endpoint.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("msg_id", sa.String(64), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_webhook_delivery_notification_id", "webhook_delivery", ["notification_id"])
    op.create_index("ix_webhook_delivery_endpoint_id", "webhook_delivery", ["endpoint_id"])
    op.create_index("ix_webhook_delivery_status", "webhook_delivery", ["status"])
    op.create_index("ix_webhook_delivery_next_attempt_at", "webhook_delivery", ["next_attempt_at"])


def _webhook_attempt() -> None:
    op.create_table(
        "webhook_attempt",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "delivery_id",
            sa.Integer(),
            sa.ForeignKey("webhook_delivery.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
    )
    op.create_index("ix_webhook_attempt_delivery_id", "webhook_attempt", ["delivery_id"])


def downgrade() -> None:
    op.drop_table("webhook_attempt")
    op.drop_table("webhook_delivery")
    op.drop_table("webhook_endpoint")
    op.drop_table("notification")
    with op.batch_alter_table("technology") as batch:
        batch.drop_column("needs_matching")
    with op.batch_alter_table("platform") as batch:
        batch.drop_column("needs_matching")
        batch.drop_column("notify_min_score")
        batch.drop_column("notify_top_k")
