"""What the key routes answer: a new key (shown once) and the keys of a platform (never the key itself)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


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
