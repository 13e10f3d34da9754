"""The loop after a match: platforms' responses, introductions, their events and e-mails to researchers.

A platform that declines for want of capacity is remembered on the platform (``capacity_paused_at``).
Notifications of type ``engagement.updated`` may repeat for a pair, so the uniqueness of a notification per
(platform, technology, type) becomes a partial unique index that leaves that type out (SQLite rebuilds the
table in batch mode, keeping AUTOINCREMENT).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_REPEATABLE = sa.text("type != 'engagement.updated'")


def _id() -> sa.Column:
    identity = [sa.Identity()] if op.get_bind().dialect.name == "postgresql" else []
    return sa.Column("id", sa.Integer(), *identity, primary_key=True)


def _fk(name: str, table: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Integer(), sa.ForeignKey(f"{table}.id", ondelete="CASCADE"), nullable=nullable)


def _when(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("platform") as batch:
        batch.add_column(_when("capacity_paused_at", nullable=True))
    op.create_table(
        "platform_response",
        _id(),
        _fk("technology_id", "technology"),
        _fk("platform_id", "platform"),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        _when("first_responded_at"),
        _when("responded_at"),
        sa.UniqueConstraint("technology_id", "platform_id", name="uq_platform_response_pair"),
        sqlite_autoincrement=True,
    )
    for column in ("technology_id", "platform_id", "responded_at"):
        op.create_index(f"ix_platform_response_{column}", "platform_response", [column])
    op.create_table(
        "introduction",
        _id(),
        _fk("technology_id", "technology"),
        _fk("platform_id", "platform"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("declined_by", sa.String(16), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        _when("introduced_at", nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("trl_reached", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        _when("created_at"),
        _when("updated_at"),
        sa.UniqueConstraint("technology_id", "platform_id", name="uq_introduction_pair"),
        sqlite_autoincrement=True,
    )
    for column in ("technology_id", "platform_id", "status"):
        op.create_index(f"ix_introduction_{column}", "introduction", [column])
    op.create_table(
        "introduction_event",
        _id(),
        _fk("introduction_id", "introduction"),
        sa.Column("actor", sa.String(16), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("trl_reached", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        _when("created_at"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_introduction_event_introduction_id", "introduction_event", ["introduction_id"])
    op.create_index("ix_introduction_event_created_at", "introduction_event", ["created_at"])
    _researcher_email()
    _notifications_may_repeat()


def _researcher_email() -> None:
    op.create_table(
        "researcher_email",
        _id(),
        _fk("introduction_id", "introduction"),
        sa.Column("to_address", sa.String(300), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("next_attempt_at"),
        sa.Column("error", sa.String(500), nullable=True),
        _when("created_at"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_researcher_email_introduction_id", "researcher_email", ["introduction_id"])
    op.create_index("ix_researcher_email_status", "researcher_email", ["status"])


def _notifications_may_repeat() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table(
        "notification", recreate="always" if sqlite else "auto", table_kwargs={"sqlite_autoincrement": True}
    ) as batch:
        batch.drop_constraint("uq_notification_pair", type_="unique")
    op.create_index(
        "uq_notification_once",
        "notification",
        ["platform_id", "technology_id", "type"],
        unique=True,
        sqlite_where=_REPEATABLE,
        postgresql_where=_REPEATABLE,
    )


def downgrade() -> None:
    op.drop_index("uq_notification_once", "notification")
    op.execute("DELETE FROM notification WHERE type = 'engagement.updated'")
    with op.batch_alter_table("notification", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.create_unique_constraint("uq_notification_pair", ["platform_id", "technology_id", "type"])
    for table in ("researcher_email", "introduction_event", "introduction", "platform_response"):
        op.drop_table(table)
    with op.batch_alter_table("platform") as batch:
        batch.drop_column("capacity_paused_at")
