"""What ``GET /v1/platforms/{id}/history`` answers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class AuditActor(BaseModel):
    kind: str = Field(
        description="admin, province_key, platform_key, operator_session (a platform key signed in on the web) "
        "or system."
    )
    key_id: int | None = Field(
        description="The API key that acted; hidden from a platform's own key unless the key is its own."
    )
    platform_id: int | None = Field(description="The platform whose key acted, when a platform key acted.")


class AuditEventOut(BaseModel):
    id: int
    at: datetime
    entity: str = Field(description="platform, key or webhook.")
    entity_id: int | None = Field(
        description="The key's or webhook's id; the platform's for platform events."
    )
    action: str = Field(
        description="created, updated, deleted, confirmed, revoked, approved, marked_stale ..."
    )
    actor: AuditActor
    changes: dict[str, list] = Field(
        description="Each changed field as [before, after]. Secrets are never shown, only that they changed."
    )
