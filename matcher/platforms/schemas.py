"""Platform shapes at the edges: what clients send (create/patch) and what they get back.

Request shapes use the shared field types of ``matcher.fields`` (plain text without control characters, codes
documented as enums); the taxonomy checks codes in the service. The read shape describes what is stored and
validates nothing beyond types, so a row stored under older rules can still be read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    computed_field,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from matcher.fields import (
    AREA,
    BLANK_IS_NONE,
    DIRECTION,
    PROVINCE_CODE,
    SERVICE_TYPE,
    TIER,
    AreaCode,
    City,
    DirectionCode,
    ExternalId,
    ListItem,
    LongText,
    MediumText,
    Name,
    OptionalProvince,
    SearchText,
    ServiceTypeCode,
    ShortText,
    TierCode,
    WebAddress,
    drop_default,
    validated_with,
)

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


class TrlRangeChecked(BaseModel):
    """A model with ``trl_min`` and ``trl_max``: a reversed range is one more error beside the fields' own."""

    @model_validator(mode="wrap")
    @classmethod
    def _trl_range(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        """``trl_min`` above ``trl_max`` is an error on ``trl_min`` (where a form shows it), reported together
        with the fields' own errors rather than after them."""
        low, high = (_whole(data.get(k)) if isinstance(data, dict) else None for k in ("trl_min", "trl_max"))
        errors = []
        if low is not None and high is not None and low > high:
            errors.append(
                InitErrorDetails(
                    type=PydanticCustomError(
                        "trl_range",
                        "trl_min ({trl_min}) must not be greater than trl_max ({trl_max})",
                        {"trl_min": low, "trl_max": high},
                    ),
                    loc=("trl_min",),
                    input=data["trl_min"],
                )
            )
        return validated_with(cls.__name__, data, handler, errors)


class PlatformFields(TrlRangeChecked):
    """A platform profile as clients send it. Codes are checked against the taxonomy by the service."""

    model_config = ConfigDict(extra="forbid")

    external_id: ExternalId | None = Field(
        None, description="The integrator's own id for this platform; unique. Imports upsert by it."
    )
    name: Name
    name_en: ShortText | None = None
    organization: ShortText | None = None
    province: OptionalProvince = None
    city: City | None = None
    tier: TierCode
    area: AreaCode
    directions: list[DirectionCode] = Field(default_factory=list, max_length=37)
    service_types: list[ServiceTypeCode] = Field(default_factory=list, max_length=5)
    capabilities: LongText = Field(
        description="Free-text capability profile (Chinese, English or both). Long texts are split into passages."
    )
    equipment: list[ListItem] = Field(default_factory=list, max_length=200)
    scale: MediumText | None = None
    trl_min: int | None = Field(None, ge=1, le=9)
    trl_max: int | None = Field(None, ge=1, le=9)
    capacity: int | None = Field(None, ge=0, le=100000, description="Open project slots.")
    contact: ShortText | None = None
    website: WebAddress | None = None
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


def _whole(value: Any) -> int | None:
    """A TRL as the field will read it (an int, or a string of digits), else None (the field reports it)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


class PlatformCreate(PlatformFields):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})


#: A field that may be left out of a PATCH but never sent as ``null``.
_NOT_NULL = {"default": None, "json_schema_extra": drop_default}


class PlatformUpdate(TrlRangeChecked):
    """A partial update: only the fields present are changed. ``null`` clears an optional field; the fields a
    profile cannot be without (name, tier, area, capabilities, active and the lists) refuse it."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"tier": "national", "capacity": 5}]}
    )

    external_id: ExternalId | None = None
    name: Name = Field(**_NOT_NULL)
    name_en: ShortText | None = None
    organization: ShortText | None = None
    province: OptionalProvince = None
    city: City | None = None
    tier: TierCode = Field(**_NOT_NULL)
    area: AreaCode = Field(**_NOT_NULL)
    directions: list[DirectionCode] = Field(max_length=37, **_NOT_NULL)
    service_types: list[ServiceTypeCode] = Field(max_length=5, **_NOT_NULL)
    capabilities: LongText = Field(**_NOT_NULL)
    equipment: list[ListItem] = Field(max_length=200, **_NOT_NULL)
    scale: MediumText | None = None
    trl_min: int | None = Field(None, ge=1, le=9)
    trl_max: int | None = Field(None, ge=1, le=9)
    capacity: int | None = Field(None, ge=0, le=100000)
    contact: ShortText | None = None
    website: WebAddress | None = None
    active: bool = Field(**_NOT_NULL)
    notify_top_k: int | None = Field(None, ge=1, le=100)
    notify_min_score: float | None = Field(None, ge=0, le=1)


class PlatformRead(BaseModel):
    """A stored platform profile."""

    model_config = ConfigDict(
        extra="ignore", from_attributes=True, json_schema_extra={"examples": [_EXAMPLE]}
    )

    id: int
    external_id: str | None = None
    name: str
    name_en: str | None = None
    organization: str | None = None
    province: Annotated[str, PROVINCE_CODE] | None = None
    city: str | None = None
    tier: Annotated[str, TIER]
    area: Annotated[str, AREA]
    directions: list[Annotated[str, DIRECTION]] = Field(default_factory=list)
    service_types: list[Annotated[str, SERVICE_TYPE]] = Field(default_factory=list)
    capabilities: str
    equipment: list[str] = Field(default_factory=list)
    scale: str | None = None
    trl_min: int | None = None
    trl_max: int | None = None
    capacity: int | None = None
    contact: str | None = None
    website: str | None = None
    active: bool = True
    notify_top_k: int | None = None
    notify_min_score: float | None = None
    capacity_paused_at: datetime | None = Field(
        None,
        description="Set when the platform declined a technology for `no_capacity`: its capacity factor is zero "
        "until `capacity` is set to a positive number again.",
    )
    confirmed_at: datetime | None = Field(
        None, description="When its operator or an administrator last confirmed the profile as still true."
    )
    edited_at: datetime | None = Field(None, description="When a profile field last changed.")
    stale_since: datetime | None = Field(
        None,
        description="Set when the profile went unconfirmed for `PILOTMATCH_PROFILE_STALE_GRACE_DAYS` after its "
        "operator was asked to confirm it; cleared by a confirmation or an edit.",
    )
    created_at: datetime
    updated_at: datetime

    @computed_field(  # type: ignore[prop-decorator]
        description="The profile is stale (`stale_since` is set): shown as such, counted apart in coverage, "
        "ranked after fresh profiles of the same score."
    )
    @property
    def stale(self) -> bool:
        return self.stale_since is not None


class PlatformFilters(BaseModel):
    """Filters for listing platforms; every one is optional, and a blank one (``?area=``) is no filter."""

    area: Annotated[AreaCode | None, BLANK_IS_NONE] = None
    direction: Annotated[DirectionCode | None, BLANK_IS_NONE] = None
    tier: Annotated[TierCode | None, BLANK_IS_NONE] = None
    province: OptionalProvince = None
    service_type: Annotated[ServiceTypeCode | None, BLANK_IS_NONE] = None
    active: bool | None = None
    stale: bool | None = Field(
        None, description="`false` leaves out platforms whose profile is stale; `true` lists only those."
    )
    q: SearchText | None = Field(
        None,
        description="Text found in the name or English name, case-insensitively and literally (`%` and `_` "
        "are ordinary characters).",
    )


class PlatformPage(BaseModel):
    items: list[PlatformRead]
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` to get the next page; null on the last."
    )
