"""The ``assignment_run`` table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from matcher.dbtypes import UTCDateTime, utcnow


class AssignmentRun(SQLModel, table=True):
    """One solved assignment of a programme's technologies to platforms, kept so it can be read again, exported
    and notified. ``request`` is the request as given; ``result`` the assignments, the unassigned technologies with
    their reasons, and both objectives."""

    __tablename__ = "assignment_run"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    #: The province of the province key that ran it (None for the full admin): other provinces cannot read it.
    province: str | None = Field(default=None, max_length=32, index=True)
    created_by: str = Field(max_length=64)
    request: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    result: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
