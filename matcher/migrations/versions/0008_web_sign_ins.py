"""Web sign-ins are kept server-side, so signing out ends a session even for a saved copy of its cookie.

Cookies from before carry no sign-in token: their holders are signed out once and sign in again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    identity = [sa.Identity()] if op.get_bind().dialect.name == "postgresql" else []
    op.create_table(
        "web_sign_in",
        sa.Column("id", sa.Integer(), *identity, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("key_digest", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_web_sign_in_token_hash", "web_sign_in", ["token_hash"], unique=True)
    op.create_index("ix_web_sign_in_key_digest", "web_sign_in", ["key_digest"])
    op.create_index("ix_web_sign_in_expires_at", "web_sign_in", ["expires_at"])


def downgrade() -> None:
    op.drop_table("web_sign_in")
