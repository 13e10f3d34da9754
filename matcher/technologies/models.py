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
    #: SHA-256 of the private link's token given to the researcher who submitted it on the web (the token itself
    #: is never stored).
    access_token_hash: str | None = Field(default=None, max_length=64, unique=True, index=True)
    #: Its best platform and score as of the last matching (written by the outbox transaction, raised when a new
    #: platform fits better, reset when that platform changes): the coverage report's unmet demand reads these.
    best_score: float | None = None
    best_platform_id: int | None = Field(default=None, index=True)
    #: The directions it was matched under: the submitter's, or the inferred ones when they chose none.
    matched_directions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
