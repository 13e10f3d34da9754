"""The ``audit_event`` table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from matcher.dbtypes import UTCDateTime, utcnow


class AuditEvent(SQLModel, table=True):
    """One change to a platform, one of its keys or webhooks: who, when, and each field before and after.

    ``platform_id`` is deliberately not a foreign key: a deleted platform's trail outlives it. ``changes`` maps a
    field to ``[before, after]``; secrets (keys, webhook signing secrets) are never written here, only that they
    changed."""

    __tablename__ = "audit_event"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    platform_id: int = Field(index=True)
    #: ``platform``, ``key`` or ``webhook``.
    entity: str = Field(max_length=16)
    entity_id: int | None = None
    #: ``created``, ``updated``, ``deleted``, ``confirmed``, ``revoked``, ``approved``, ``marked_stale`` ...
    action: str = Field(max_length=32)
    #: ``admin``, ``province_key``, ``platform_key``, ``operator_session``, ``applicant`` or ``system``.
    actor_kind: str = Field(max_length=24)
    #: The key behind the actor (an ``api_key`` id), when there is one.
    actor_key_id: int | None = None
    #: The platform whose key acted, when a platform key acted: other platforms never see it.
    actor_platform_id: int | None = None
    changes: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
