"""Tables of the notification outbox: notifications, webhook endpoints, deliveries and their attempts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, Text, text
from sqlmodel import Field, SQLModel

from matcher.dbtypes import UTCDateTime, utcnow


class Notification(SQLModel, table=True):
    """One event in a platform's inbox. Each type but ``engagement.updated`` is unique per (platform,
    technology): a platform hears of a technology once, ever, is reminded of it once, and hears once that a
    researcher asked for it and that the introduction was made. ``endpoint.disabled`` rows tell the platform a
    webhook was switched off."""

    __tablename__ = "notification"
    __table_args__ = (
        Index(
            "uq_notification_once",
            "platform_id",
            "technology_id",
            "type",
            unique=True,
            sqlite_where=text("type != 'engagement.updated'"),
            postgresql_where=text("type != 'engagement.updated'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform_id: int = Field(foreign_key="platform.id", index=True, ondelete="CASCADE")
    technology_id: int | None = Field(default=None, foreign_key="technology.id", ondelete="CASCADE")
    type: str = Field(max_length=32)
    score: float | None = None
    payload: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: None (no e-mail for this one), pending, sent or dead; digests batch pending ones per platform.
    email_status: str | None = Field(default=None, max_length=16, index=True)
    email_attempts: int = 0
    email_next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    email_error: str | None = Field(default=None, max_length=500)


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoint"

    id: int | None = Field(default=None, primary_key=True)
    platform_id: int = Field(foreign_key="platform.id", index=True, ondelete="CASCADE")
    url: str = Field(max_length=2000)
    description: str | None = Field(default=None, max_length=300)
    secret: str = Field(max_length=128)
    active: bool = True
    disabled_reason: str | None = Field(default=None, max_length=300)
    #: Start of the current run of failures; an endpoint failing for a day is disabled.
    failing_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class WebhookDelivery(SQLModel, table=True):
    """One event for one endpoint. ``msg_id`` is the ``webhook-id`` header, the same on every retry.

    A worker claims a due delivery by setting ``lease_owner``/``lease_until`` in one conditional UPDATE, so two
    workers never send it at once, and a crashed worker's claim simply expires.
    """

    __tablename__ = "webhook_delivery"

    id: int | None = Field(default=None, primary_key=True)
    notification_id: int = Field(foreign_key="notification.id", index=True, ondelete="CASCADE")
    endpoint_id: int = Field(foreign_key="webhook_endpoint.id", index=True, ondelete="CASCADE")
    msg_id: str = Field(max_length=64, unique=True)
    status: str = Field(default="pending", max_length=16, index=True)  # pending | succeeded | dead
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class WebhookAttempt(SQLModel, table=True):
    """One HTTP attempt of a delivery, with a bounded copy of the answer."""

    __tablename__ = "webhook_attempt"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="webhook_delivery.id", index=True, ondelete="CASCADE")
    attempted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=500)
    response_body: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    duration_ms: float | None = None
