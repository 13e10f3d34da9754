"""Match feedback.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "match_feedback",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "technology_id", sa.Integer(), sa.ForeignKey("technology.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_match_feedback_technology_id", "match_feedback", ["technology_id"])
    op.create_index("ix_match_feedback_platform_id", "match_feedback", ["platform_id"])


def downgrade() -> None:
    op.drop_table("match_feedback")
