"""Private links to submitted technologies, their best match (for unmet-demand reports), and the web secret.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("technology") as batch:
        batch.add_column(sa.Column("access_token_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("best_score", sa.Float(), nullable=True))
        batch.add_column(sa.Column("best_platform_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("matched_directions", sa.JSON(), nullable=False, server_default="[]"))
    op.create_index("ix_technology_access_token_hash", "technology", ["access_token_hash"], unique=True)
    op.create_index("ix_technology_best_platform_id", "technology", ["best_platform_id"])
    op.create_table(
        "app_secret",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.String(128), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("app_secret")
    op.drop_index("ix_technology_best_platform_id", "technology")
    op.drop_index("ix_technology_access_token_hash", "technology")
    with op.batch_alter_table("technology") as batch:
        batch.drop_column("matched_directions")
        batch.drop_column("best_platform_id")
        batch.drop_column("best_score")
        batch.drop_column("access_token_hash")
