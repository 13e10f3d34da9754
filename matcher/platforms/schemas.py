"""Platform shapes at the edges: what clients send (create/patch) and what they get back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
EquipmentItem = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]

_EXAMPLE = {
    "external_id": "js-2025-017",
    "name": "江苏省先进电池材料中试平台",
    "name_en": "Jiangsu Advanced Battery Materials Pilot Platform",
    "organization": "常州锂源新材料研究院",
    "province": "jiangsu",
    "city": "常州",
    "tier": "key_cultivated",
    "area": "emerging_future",
    "directions": ["new_energy_storage", "new_materials"],
    "service_types": ["process", "production"],
    "capabilities": "磷酸铁锂、高镍三元正极材料百吨级中试线，提供共沉淀、烧结、包覆工艺验证与扣式/软包电池评测。",
    "equipment": ["辊道窑 12 m", "共沉淀反应釜 5 m³", "软包电池试制线"],
    "scale": "正极材料 200 t/a",
    "trl_min": 4,
    "trl_max": 7,
    "capacity": 3,
    "contact": "pilot@example.cn",
    "website": "https://pilot.example.cn",
    "active": True,
}


class PlatformFields(BaseModel):
    """Fields shared by create and read. Codes are checked against the taxonomy by the service."""

    model_config = ConfigDict(extra="forbid")

    external_id: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)] | None
    ) = Field(None, description="The integrator's own id for this platform; unique. Imports upsert by it.")
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    name_en: ShortText | None = None
    organization: ShortText | None = None
    province: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = Field(
        None, description="Province code (e.g. `jiangsu`), or its Chinese/English name."
    )
    city: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    tier: Code = Field(description="One of the taxonomy's tier codes.")
    area: Code = Field(description="One of the 6 key-area codes.")
    directions: list[Code] = Field(default_factory=list, max_length=37)
    service_types: list[Code] = Field(default_factory=list, max_length=5)
    capabilities: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000)] = (
        Field(
            description="Free-text capability profile (Chinese, English or both). Long texts are split into passages."
        )
    )
    equipment: list[EquipmentItem] = Field(default_factory=list, max_length=200)
    scale: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    trl_min: int | None = Field(None, ge=1, le=9)
    trl_max: int | None = Field(None, ge=1, le=9)
    capacity: int | None = Field(None, ge=0, le=100000, description="Open project slots.")
    contact: ShortText | None = None
    website: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    active: bool = True
    notify_top_k: int | None = Field(
        None,
        ge=1,
        le=100,
        description="Hear of technologies that rank in this many best (default in settings).",
    )
    notify_min_score: float | None = Field(
        None, ge=0, le=1, description="...and score at least this (calibrated; default in settings)."
    )

    @model_validator(mode="after")
    def _trl_range(self) -> PlatformFields:
        if self.trl_min is not None and self.trl_max is not None and self.trl_min > self.trl_max:
            raise ValueError("trl_min must not be greater than trl_max")
        return self


class PlatformCreate(PlatformFields):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})


class PlatformUpdate(BaseModel):
    """A partial update: only the fields present are changed (``null`` clears an optional field)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"tier": "national", "capacity": 5}]}
    )

    external_id: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)] | None
    ) = None
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    name_en: ShortText | None = None
    organization: ShortText | None = None
    province: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = None
    city: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    tier: Code | None = None
    area: Code | None = None
    directions: list[Code] | None = Field(None, max_length=37)
    service_types: list[Code] | None = Field(None, max_length=5)
    capabilities: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000)] | None
    ) = None
    equipment: list[EquipmentItem] | None = Field(None, max_length=200)
    scale: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    trl_min: int | None = Field(None, ge=1, le=9)
    trl_max: int | None = Field(None, ge=1, le=9)
    capacity: int | None = Field(None, ge=0, le=100000)
    contact: ShortText | None = None
    website: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    active: bool | None = None
    notify_top_k: int | None = Field(None, ge=1, le=100)
    notify_min_score: float | None = Field(None, ge=0, le=1)


class PlatformRead(PlatformFields):
    model_config = ConfigDict(
        extra="ignore", from_attributes=True, json_schema_extra={"examples": [_EXAMPLE]}
    )

    id: int
    created_at: datetime
    updated_at: datetime


class PlatformFilters(BaseModel):
    """Filters for listing platforms; every one is optional."""

    area: str | None = None
    direction: str | None = None
    tier: str | None = None
    province: str | None = None
    service_type: str | None = None
    active: bool | None = None
    q: str | None = Field(None, max_length=200, description="Substring of the name (Chinese or English).")


class PlatformPage(BaseModel):
    items: list[PlatformRead]
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` to get the next page; null on the last."
    )
