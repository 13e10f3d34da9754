"""What the key routes answer: a new key (shown once) and the keys of a platform (never the key itself)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from matcher.fields import Code, Name


class KeyCreated(BaseModel):
    id: int
    key: str = Field(description="Shown only now; stored as a hash.")


class KeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class AdminKeyCreate(BaseModel):
    """An administrator key to issue. ``province`` keys administer one province; ``full`` keys the whole network
    (so each administrator has a key of their own, told apart in the audit trail)."""

    model_config = ConfigDict(extra="forbid")

    scope: Literal["province", "full"] = Field(
        description="`province`: one province only; `full`: everything."
    )
    province: Code | None = Field(
        default=None,
        description="The province a `province` key governs (code, Chinese or English name); not for `full`.",
    )
    label: Name = Field(description="Who holds it, e.g. 'Jiangsu MIIT office'.")


class AdminKeyCreated(BaseModel):
    id: int
    key: str = Field(description="Shown only now; stored as a hash.")
    scope: Literal["province", "full"]
    province: str | None
    label: str | None


class AdminKeyOut(BaseModel):
    id: int
    scope: Literal["province", "full"]
    province: str | None
    label: str | None
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
