"""The ``api_key`` table: keys are stored only as SHA-256 hashes."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from matcher.dbtypes import UTCDateTime, utcnow


class ApiKey(SQLModel, table=True):
    """A bearer key. ``role`` is ``admin`` (may write everything), ``province`` (what the admin may, but only over
    the platforms, applications and technologies of ``province``) or ``platform`` (its own platform only)."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    role: str = Field(max_length=16, index=True)
    platform_id: int | None = Field(default=None, index=True)
    #: The province a ``province`` key governs (a code of the taxonomy); None for other roles.
    province: str | None = Field(default=None, max_length=32, index=True)
    #: Who holds an administrator key ("Jiangsu MIIT office"), shown in lists and in the audit trail.
    label: str | None = Field(default=None, max_length=200)
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


class WebSignIn(SQLModel, table=True):
    """One signed-in web session, kept server-side so that signing out ends it everywhere at once (a saved copy
    of the cookie opens nothing afterwards). The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "web_sign_in"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    #: The SHA-256 of the key signed in with: each request checks it again, so revoking the key ends the session.
    key_digest: str = Field(max_length=64, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
