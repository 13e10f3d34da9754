"""Technology shapes at the edges.

Request shapes use the shared field types of ``matcher.fields``; the read shape describes what is stored and
validates nothing beyond types.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from matcher.fields import (
    DIRECTION,
    PROVINCE_CODE,
    SERVICE_TYPE,
    TECHNOLOGY_STATUS,
    DirectionCode,
    ExternalId,
    LongText,
    ProvinceInput,
    ServiceTypeCode,
    ShortText,
    drop_default,
)

Status = Annotated[Literal["open", "matched", "closed"], TECHNOLOGY_STATUS]

_EXAMPLE = {
    "title": "Sodium-ion layered oxide cathode",
    "summary": "We synthesised an O3-type layered oxide cathode for sodium-ion batteries with 150 mAh/g and "
    "90% retention after 1,000 cycles in coin cells, and need kilogram-scale co-precipitation and sintering to "
    "verify the process before pouch-cell tests.",
    "directions": [],
    "trl": 4,
    "service_types": ["process"],
    "preferred_provinces": ["jiangsu", "广东"],
    "contact": "lab@example.edu.cn",
}


class TechnologyNeed(BaseModel):
    """What a researcher says of their technology: the fields every way of submitting one shares."""

    model_config = ConfigDict(extra="forbid")

    title: ShortText | None = None
    summary: LongText = Field(
        description="What the technology is, where it stands and what pilot testing it needs (Chinese or English)."
    )
    directions: list[DirectionCode] = Field(default_factory=list, max_length=37)
    trl: int | None = Field(None, ge=1, le=9, description="Technology readiness level today.")
    service_types: list[ServiceTypeCode] = Field(
        default_factory=list, max_length=5, description="Wanted service types."
    )
    preferred_provinces: list[ProvinceInput] = Field(default_factory=list, max_length=31)


class TechnologyFields(TechnologyNeed):
    """The need plus what an integrator sets: its own id, the contact (optional here) and the status."""

    external_id: ExternalId | None = None
    contact: ShortText | None = None
    status: Status = "open"


class TechnologyCreate(TechnologyFields):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})


#: A field that may be left out of a PATCH but never sent as ``null``.
_NOT_NULL = {"default": None, "json_schema_extra": drop_default}


class TechnologyUpdate(BaseModel):
    """A partial update: only the fields present are changed. ``null`` clears an optional field (a list becomes
    empty); ``summary`` and ``status`` refuse it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"status": "matched"}]})

    external_id: ExternalId | None = None
    title: ShortText | None = None
    summary: LongText = Field(**_NOT_NULL)
    directions: list[DirectionCode] | None = Field(None, max_length=37)
    trl: int | None = Field(None, ge=1, le=9)
    service_types: list[ServiceTypeCode] | None = Field(None, max_length=5)
    preferred_provinces: list[ProvinceInput] | None = Field(None, max_length=31)
    contact: ShortText | None = None
    status: Status = Field(**_NOT_NULL)


class TechnologyRead(BaseModel):
    """A stored technology."""

    model_config = ConfigDict(
        extra="ignore", from_attributes=True, json_schema_extra={"examples": [_EXAMPLE]}
    )

    id: int
    external_id: str | None = None
    title: str | None = None
    summary: str
    directions: list[Annotated[str, DIRECTION]] = Field(default_factory=list)
    trl: int | None = None
    service_types: list[Annotated[str, SERVICE_TYPE]] = Field(default_factory=list)
    preferred_provinces: list[Annotated[str, PROVINCE_CODE]] = Field(default_factory=list)
    contact: str | None = None
    status: Annotated[str, TECHNOLOGY_STATUS]
    created_at: datetime
    updated_at: datetime


class TechnologyPage(BaseModel):
    items: list[TechnologyRead]
    next_cursor: str | None = None
