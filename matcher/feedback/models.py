"""The ``match_feedback`` table."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from matcher.dbtypes import UTCDateTime, utcnow


class MatchFeedback(SQLModel, table=True):
    """One verdict on one (technology, platform) match. A later verdict on the same pair supersedes earlier ones
    (all are kept, so changes of mind are visible)."""

    __tablename__ = "match_feedback"

    id: int | None = Field(default=None, primary_key=True)
    technology_id: int = Field(foreign_key="technology.id", index=True, ondelete="CASCADE")
    platform_id: int = Field(index=True)
    verdict: str = Field(max_length=8)
    reason: str | None = Field(default=None, max_length=32)
    score: float | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
