"""The ``api_key`` table: keys are stored only as SHA-256 hashes."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from matcher.dbtypes import UTCDateTime, utcnow


class ApiKey(SQLModel, table=True):
    """A bearer key. ``role`` is ``admin`` (may write everything) or ``platform`` (its own platform only)."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    role: str = Field(max_length=16, index=True)
    platform_id: int | None = Field(default=None, index=True)
    prefix: str = Field(max_length=24)
    key_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AppSecret(SQLModel, table=True):
    """Secrets the service makes for itself and every process must share (the web session signing key), kept in
    the database so several API processes agree without configuration."""

    __tablename__ = "app_secret"

    name: str = Field(primary_key=True, max_length=32)
    value: str = Field(max_length=128)
