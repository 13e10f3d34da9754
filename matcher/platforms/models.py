"""The ``platform`` table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel

from matcher.dbtypes import UTCDateTime, utcnow


class Platform(SQLModel, table=True):
    """A pilot-test platform's capability profile. Lists are JSON columns (portable across SQLite/PostgreSQL)."""

    __tablename__ = "platform"

    id: int | None = Field(default=None, primary_key=True)
    external_id: str | None = Field(default=None, max_length=128, unique=True, index=True)
    name: str = Field(max_length=200)
    name_en: str | None = Field(default=None, max_length=300)
    organization: str | None = Field(default=None, max_length=300)
    province: str | None = Field(default=None, max_length=32, index=True)
    city: str | None = Field(default=None, max_length=100)
    tier: str = Field(max_length=32, index=True)
    area: str = Field(max_length=64, index=True)
    directions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    service_types: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    capabilities: str = Field(sa_column=Column(Text, nullable=False))
    equipment: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    scale: str | None = Field(default=None, max_length=500)
    trl_min: int | None = None
    trl_max: int | None = None
    capacity: int | None = None
    #: Set when the platform declined a technology for want of capacity: its capacity factor is zero until its
    #: operator raises ``capacity`` again.
    capacity_paused_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    contact: str | None = Field(default=None, max_length=300)
    website: str | None = Field(default=None, max_length=500)
    active: bool = Field(default=True, index=True)
    #: Notify this platform of a technology that ranks in its best ``notify_top_k`` with a score of at least
    #: ``notify_min_score``; None means the defaults in settings.
    notify_top_k: int | None = None
    notify_min_score: float | None = None
    #: Set when the profile's text changes; cleared by the transaction that records its matches.
    needs_matching: bool = Field(default=False, index=True)
    #: When the last e-mail digest went out (one per ``email_batch_minutes``).
    last_email_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: When its operator (or an administrator over it) last confirmed the profile as still true.
    confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: When the profile was last edited (a profile field, not bookkeeping): with ``confirmed_at`` it says how
    #: fresh the profile is.
    edited_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: When the operator was reminded that the profile is due for confirmation (cleared by an edit or confirmation).
    stale_reminded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: Set when the profile went unconfirmed past the grace period after the reminder: it is marked stale.
    stale_since: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
