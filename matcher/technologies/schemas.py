"""Technology shapes at the edges."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Status = Literal["open", "matched", "closed"]

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


class TechnologyFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_id: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)] | None
    ) = None
    title: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    summary: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000)] = Field(
        description="What the technology is, where it stands and what pilot testing it needs (Chinese or English)."
    )
    directions: list[Code] = Field(default_factory=list, max_length=37)
    trl: int | None = Field(None, ge=1, le=9, description="Technology readiness level today.")
    service_types: list[Code] = Field(default_factory=list, max_length=5, description="Wanted service types.")
    preferred_provinces: list[Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)]] = (
        Field(default_factory=list, max_length=31)
    )
    contact: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    status: Status = "open"


class TechnologyCreate(TechnologyFields):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})


class TechnologyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"status": "matched"}]})

    external_id: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)] | None
    ) = None
    title: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    summary: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000)] | None
    ) = None
    directions: list[Code] | None = Field(None, max_length=37)
    trl: int | None = Field(None, ge=1, le=9)
    service_types: list[Code] | None = Field(None, max_length=5)
    preferred_provinces: (
        list[Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)]] | None
    ) = Field(None, max_length=31)
    contact: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    status: Status | None = None


class TechnologyRead(TechnologyFields):
    model_config = ConfigDict(
        extra="ignore", from_attributes=True, json_schema_extra={"examples": [_EXAMPLE]}
    )

    id: int
    created_at: datetime
    updated_at: datetime


class TechnologyPage(BaseModel):
    items: list[TechnologyRead]
    next_cursor: str | None = None
