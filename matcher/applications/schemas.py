"""What applicants send and what they and the administrators read back.

An application carries the platform-create fields flat, validated by the very model ``POST /v1/platforms`` uses
(``PlatformCreate``), plus the applicant's contact. Two fields stay with the network's administrators: a tier
MIIT awards (``key_cultivated``, ``national``) and the integrator's ``external_id``; asking for either is an
invalid application (422 naming the field), so a form shows the refusal beside the field and nothing is stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from matcher.engagements.schemas import check_contact
from matcher.fields import PlainText, ShortText, TierCode
from matcher.platforms.permissions import PROVINCE_TIERS
from matcher.platforms.schemas import PlatformCreate

STATUSES = ("pending", "approved", "rejected")
ApplicationStatusCode = Literal["pending", "approved", "rejected"]

_EXAMPLE = {
    "name": "安徽省钠离子电池材料中试平台",
    "name_en": "Anhui Sodium-ion Battery Materials Pilot Platform",
    "organization": "合肥储能材料研究院",
    "province": "anhui",
    "city": "合肥",
    "area": "emerging_future",
    "directions": ["new_energy_storage"],
    "service_types": ["process", "performance"],
    "capabilities": "层状氧化物与聚阴离子正极材料公斤级到百公斤级中试，共沉淀、固相烧结工艺放大与软包电池评测。",
    "trl_min": 4,
    "trl_max": 7,
    "capacity": 2,
    "contact": "pilot@example.cn",
    "applicant_contact": "王工 138 0000 0000",
}


class PlatformApplicationCreate(PlatformCreate):
    """An application to join: a platform profile as ``POST /v1/platforms`` takes it, and who to reach about it.
    ``tier`` is the standing the platform claims (default ``reserve``); the administrator confirms or changes it
    when approving."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})

    external_id: None = Field(
        None, description="Not in an application: an administrator sets it once the platform exists."
    )
    tier: TierCode = Field(
        "reserve",
        description="The tier the platform applies for: `reserve` or `provincial`. `key_cultivated` and "
        "`national` are awarded by the network administrator, and `unlisted` is its to set.",
    )
    applicant_contact: ShortText = Field(
        description="Who the administrators reach about the application: an e-mail address, or a phone number "
        "with a name. Only administrators see it."
    )

    @field_validator("applicant_contact")
    @classmethod
    def _reachable(cls, value: str) -> str:
        return check_contact(value)

    @field_validator("tier")
    @classmethod
    def _not_awarded(cls, value: str) -> str:
        if value not in PROVINCE_TIERS:
            raise ValueError(
                f"the tier {value} is set by the network administrator, not applied for; apply as reserve or "
                "provincial"
            )
        return value

    @field_validator("external_id", mode="before")
    @classmethod
    def _no_external_id(cls, value: Any) -> None:
        """The integrator's id is the administrators' to set once the platform exists (``PATCH``)."""
        if value is not None:
            raise ValueError("external_id is set by an administrator after approval, not in an application")
        return None

    def profile(self) -> dict[str, Any]:
        """The platform-create fields, as stored until approval (JSON-safe)."""
        return self.model_dump(mode="json", exclude={"applicant_contact", "external_id"})


class ApplicationCreated(BaseModel):
    """The answer to an application (201)."""

    id: int
    token: str = Field(
        description="Follow the application with GET /v1/platform-applications/{token}. Shown only now; stored "
        "as a hash. After approval the platform's key is shown once, to this token only."
    )
    status: ApplicationStatusCode


class EditHeld(ApplicationCreated):
    """The answer to an operator's edit held for review (202): the application it became."""

    revision_of: int = Field(description="The platform the edit belongs to.")


class ApplicationState(BaseModel):
    """An application as its applicant sees it (with the token)."""

    id: int
    status: ApplicationStatusCode
    name: str
    created_at: datetime
    reviewed_at: datetime | None = None
    reason: str | None = Field(None, description="Why it was rejected.")
    revision_of: int | None = None
    platform_id: int | None = Field(None, description="The platform approval created (or the edit changed).")
    key: str | None = Field(
        None,
        description="The new platform's key, in the first answer after approval only; it is stored nowhere in "
        "clear and never shown again.",
    )
    key_shown_at: datetime | None = Field(None, description="When the key was shown.")


class ApplicationOut(BaseModel):
    """An application as the administrators review it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    status: ApplicationStatusCode
    name: str
    province: str | None
    profile: dict[str, Any] = Field(
        description="The profile applied with; for an edit under review, the fields the edit changes."
    )
    current: dict[str, Any] | None = Field(
        None, description="For an edit under review: the published values of the fields it changes."
    )
    held_because: dict[str, Any] = Field(
        description="For an edit under review, what sent it to review: `new_areas`, `service_types_replaced`, "
        "`capabilities_similarity`."
    )
    applicant_contact: str
    revision_of: int | None
    platform_id: int | None
    reason: str | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    created_at: datetime


class ApplicationPage(BaseModel):
    items: list[ApplicationOut]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last.")


class ApproveBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"tier": "provincial"}]})

    tier: TierCode | None = Field(
        None,
        description="The tier to grant (default: the one applied for). A province key may grant `reserve` or "
        "`provincial`; `key_cultivated` and `national` need the full admin. Not for an edit under review.",
    )


Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), PlainText]


class RejectBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "The capability text describes no pilot line."}]},
    )

    reason: Reason = Field(description="Shown to the applicant (at most 2,000 characters).")
