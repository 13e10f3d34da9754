"""The ``technology`` table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel

from matcher.dbtypes import UTCDateTime, utcnow


class Technology(SQLModel, table=True):
    """A technology a researcher submitted for pilot testing."""

    __tablename__ = "technology"

    id: int | None = Field(default=None, primary_key=True)
    external_id: str | None = Field(default=None, max_length=128, unique=True, index=True)
    title: str | None = Field(default=None, max_length=300)
    summary: str = Field(sa_column=Column(Text, nullable=False))
    directions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    trl: int | None = None
    service_types: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    preferred_provinces: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    contact: str | None = Field(default=None, max_length=300)
    status: str = Field(default="open", max_length=16, index=True)
    #: Set when the text changes; cleared by the transaction that records its matches (the outbox).
    needs_matching: bool = Field(default=False, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
