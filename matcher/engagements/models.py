"""Tables of the loop after a match: responses, introductions, their events, and e-mails to researchers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from matcher.dbtypes import UTCDateTime, utcnow


class PlatformResponse(SQLModel, table=True):
    """A platform's answer to a technology that fits it: ``interested``, or ``declined`` with a reason. One row
    per pair; a changed answer overwrites it (until an introduction exists), ``first_responded_at`` stays."""

    __tablename__ = "platform_response"
    __table_args__ = (
        UniqueConstraint("technology_id", "platform_id", name="uq_platform_response_pair"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    technology_id: int = Field(foreign_key="technology.id", index=True, ondelete="CASCADE")
    platform_id: int = Field(foreign_key="platform.id", index=True, ondelete="CASCADE")
    decision: str = Field(max_length=16)
    reason: str | None = Field(default=None, max_length=32)
    message: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    first_responded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    responded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class Introduction(SQLModel, table=True):
    """A researcher's request to meet one platform, and the engagement it becomes.

    ``requested`` until the platform has said ``interested`` (either order), then ``introduced`` and on along
    ``agreed → piloting → completed``, or ``withdrawn``; ``declined`` by either side before the introduction.
    Deleting the technology or the platform deletes it (with its events and e-mails)."""

    __tablename__ = "introduction"
    __table_args__ = (
        UniqueConstraint("technology_id", "platform_id", name="uq_introduction_pair"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    technology_id: int = Field(foreign_key="technology.id", index=True, ondelete="CASCADE")
    platform_id: int = Field(foreign_key="platform.id", index=True, ondelete="CASCADE")
    status: str = Field(max_length=16, index=True)
    #: Who declined (``researcher`` or ``platform``): only that side may take it back.
    declined_by: str | None = Field(default=None, max_length=16)
    message: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    introduced_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome: str | None = Field(default=None, max_length=16)
    trl_reached: int | None = None
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class IntroductionEvent(SQLModel, table=True):
    """One change of an introduction: who (``researcher``, ``platform`` or ``admin``), when, from and to."""

    __tablename__ = "introduction_event"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    introduction_id: int = Field(foreign_key="introduction.id", index=True, ondelete="CASCADE")
    actor: str = Field(max_length=16)
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str = Field(max_length=16)
    outcome: str | None = Field(default=None, max_length=16)
    trl_reached: int | None = None
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class ResearcherEmail(SQLModel, table=True):
    """An e-mail to a researcher (an introduction was made), sent and retried by the worker. It goes with its
    introduction: a deleted technology leaves no address behind."""

    __tablename__ = "researcher_email"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    introduction_id: int = Field(foreign_key="introduction.id", index=True, ondelete="CASCADE")
    to_address: str = Field(max_length=300)
    subject: str = Field(max_length=300)
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="pending", max_length=16, index=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
