"""The ``platform_application`` table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from matcher.dbtypes import UTCDateTime, utcnow


class PlatformApplication(SQLModel, table=True):
    """A platform's request to join the reserve pool, waiting for an administrator's review.

    The applicant holds a random token (only its SHA-256 is stored) to follow the application. ``profile`` holds
    the platform-create fields as submitted; nothing of it is matched, listed or reported until approval creates
    the platform. ``key_hash`` is the SHA-256 of the platform key the applicant will be shown once: the key is
    derived from the applicant's token and a server secret, so it is stored nowhere in clear.
    """

    __tablename__ = "platform_application"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    status: str = Field(default="pending", max_length=16, index=True)  # pending | approved | rejected
    name: str = Field(max_length=200)
    #: Copied from the profile: a province administrator reviews only its province's applications.
    province: str | None = Field(default=None, max_length=32, index=True)
    profile: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    applicant_contact: str = Field(max_length=300)
    #: The platform an edit under review belongs to (None for a new platform's application).
    revision_of: int | None = Field(default=None, index=True)
    key_hash: str | None = Field(default=None, max_length=64)
    #: The first characters of that key (``pm_platform_`` and four more), so the key approval issues can be told
    #: apart from the platform's other keys, as every key's prefix is.
    key_prefix: str | None = Field(default=None, max_length=24)
    #: Why an operator's edit was held for review (``revisions.review_reasons``); empty for a new platform.
    held_because: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    #: The published values of the fields a held edit changes, as they were when it was held: approval refuses
    #: an edit whose fields have changed since (it would undo that later change).
    published: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    reason: str | None = Field(default=None, max_length=2000)
    platform_id: int | None = Field(default=None, index=True)
    key_shown_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reviewed_by: str | None = Field(default=None, max_length=64)
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
