"""What the loop's routes accept and answer: responses, submissions, introductions and their events.

Privacy is part of the shape: an introduction's view carries the other side's contact only from ``introduced``
on (``IntroductionView.of`` takes who is looking), and a submission's researcher contact is theirs alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from matcher.accounts.principal import Principal
from matcher.engagements.models import Introduction, IntroductionEvent, PlatformResponse
from matcher.feedback.schemas import REASONS, Reason
from matcher.fields import (
    PlainText,
    ShortText,
    coded,
)
from matcher.platforms.models import Platform
from matcher.technologies.schemas import TechnologyNeed, TechnologyRead

Decision = Annotated[
    Literal["interested", "declined"],
    coded(
        "A platform's answer to a technology (答复).",
        {"interested": ("有意向", "Interested"), "declined": ("婉拒", "Declined, with a reason")},
    ),
]

#: The stages of an introduction, in order; ``withdrawn`` and ``declined`` leave the line.
STAGES: tuple[str, ...] = ("requested", "introduced", "agreed", "piloting", "completed")
STATUSES: dict[str, tuple[str, str]] = {
    "requested": ("待平台答复", "Requested: waiting for the platform"),
    "introduced": ("已引荐", "Introduced: both sides see each other's contact"),
    "agreed": ("已商定", "Agreed on a pilot test"),
    "piloting": ("中试中", "Pilot test under way"),
    "completed": ("已完成", "Completed, with an outcome"),
    "withdrawn": ("已撤回", "Withdrawn"),
    "declined": ("已婉拒", "Declined before the introduction"),
}
Status = Annotated[
    Literal["requested", "introduced", "agreed", "piloting", "completed", "withdrawn", "declined"],
    coded("Introduction status (对接状态).", STATUSES),
]
#: What a PATCH may ask for: the stages after the introduction, withdrawal, or declining one not yet made.
Move = Annotated[
    Literal["agreed", "piloting", "completed", "withdrawn", "declined"],
    coded(
        "The status to move to (目标状态).",
        {k: v for k, v in STATUSES.items() if k not in ("requested", "introduced")},
    ),
]
OUTCOME_NAMES: dict[str, tuple[str, str]] = {
    "succeeded": ("成功", "Succeeded"),
    "failed": ("失败", "Failed"),
    "abandoned": ("放弃", "Abandoned"),
}
Outcome = Annotated[
    Literal["succeeded", "failed", "abandoned"],
    coded("How a completed pilot test ended (结果).", OUTCOME_NAMES),
]
Actor = Literal["researcher", "platform", "admin"]


def actor_of(principal: Principal) -> Actor:
    """How an event names a key acting for a platform: an administrator over it (the full admin, or its
    province's) acts as ``admin``, on the platform's behalf; the platform's own key or operator as ``platform``."""
    return "admin" if principal.is_administrator else "platform"


Message = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), PlainText]

#: An e-mail address: one, plain (no display name or list).
_EMAIL = re.compile(r"[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+")
#: A phone number: 7-15 digits, with the usual separators and an optional leading +.
_PHONE = re.compile(r"\+?\d[\d\s()\-]{5,18}\d")


def check_contact(value: str) -> str:
    """A researcher's contact is how a platform reaches them after the introduction: an e-mail address, or a
    phone number together with a name (a bare number reaches nobody in particular)."""
    if _EMAIL.fullmatch(value):
        return value
    phone = _PHONE.search(value)
    if phone and re.search(r"[^\W\d_]", value.replace(phone.group(0), "")):
        return value
    raise ValueError(
        "give an e-mail address (lab@example.edu.cn) or a phone number with a name (王工 138 0000 0000)"
    )


class ResponseIn(BaseModel):
    """A platform's answer. ``reason`` is required when it declines (and ignored when it is interested)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"decision": "interested", "message": "We can run kilogram-scale co-precipitation in March."},
                {"decision": "declined", "reason": "wrong_scale"},
            ]
        },
    )

    decision: Decision
    reason: Reason | None = Field(
        None, validate_default=True, description="Why, when declining (required then)."
    )
    message: Message | None = None

    @field_validator("reason")
    @classmethod
    def _reason_goes_with_declined(cls, reason: str | None, info: ValidationInfo) -> str | None:
        decision = info.data.get("decision")
        if decision == "declined" and reason is None:
            raise ValueError("reason is required to decline: " + ", ".join(REASONS))
        if decision == "interested" and reason is not None:
            raise ValueError("reason goes with declined; an interested answer has none")
        return reason


class ResponseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    platform_id: int
    technology_id: int
    decision: Decision
    reason: Reason | None
    message: str | None
    responded_at: datetime


class SubmissionCreate(TechnologyNeed):
    """A researcher's technology, sent without a key. The same fields as ``POST /v1/technologies`` but for the
    integrator's ones (``external_id``, ``status``); ``contact`` is required."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Sodium-ion layered oxide cathode",
                    "summary": "O3-type layered oxide cathode for sodium-ion batteries, 150 mAh/g in coin cells; "
                    "needs kilogram-scale co-precipitation and sintering before pouch-cell tests.",
                    "trl": 4,
                    "service_types": ["process"],
                    "contact": "lab@example.edu.cn",
                }
            ]
        },
    )

    contact: ShortText = Field(
        description="How the platform reaches you once you both agree: an e-mail address, or a phone number "
        "with a name. Only you and, after the introduction, that platform see it."
    )

    @field_validator("contact")
    @classmethod
    def _reachable(cls, value: str) -> str:
        return check_contact(value)


class IntroductionRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"platform_id": 3, "message": "Could we start in the spring?"}]},
    )

    platform_id: int = Field(ge=1, le=2**31 - 1)
    message: Message | None = None


class IntroductionPatch(BaseModel):
    """A move along ``introduced → agreed → piloting → completed`` (forward only), ``withdrawn`` from any of
    them, or ``declined`` before the introduction. ``completed`` needs ``outcome``. ``trl_reached`` and ``note``
    may also come alone, to record progress without a move."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "status": "completed",
                    "outcome": "succeeded",
                    "trl_reached": 7,
                    "note": "Pilot run of 50 kg.",
                }
            ]
        },
    )

    status: Move | None = None
    outcome: Outcome | None = None
    trl_reached: Annotated[int, Strict()] | None = Field(None, ge=1, le=9, description="A whole number, 1-9.")
    note: Message | None = None
    reason: Reason | None = Field(None, description="Why, when a platform declines (default `other`).")

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("send at least one of status, outcome, trl_reached, note")
        nulls = sorted(f for f in self.model_fields_set if getattr(self, f) is None)
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null: leave a field out to keep it as it is")
        if self.status == "completed" and self.outcome is None:
            raise ValueError("outcome is required to complete: succeeded, failed or abandoned")
        if self.outcome is not None and self.status not in (None, "completed"):
            raise ValueError("outcome goes with status completed")
        return self


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    actor: Actor
    from_status: Status | None = Field(alias="from", serialization_alias="from")
    to_status: Status = Field(alias="to", serialization_alias="to")
    outcome: Outcome | None = None
    trl_reached: int | None = None
    note: str | None = None
    at: datetime

    @classmethod
    def of(cls, e: IntroductionEvent) -> EventOut:
        return cls.model_validate(
            {
                "actor": e.actor,
                "from": e.from_status,
                "to": e.to_status,
                "outcome": e.outcome,
                "trl_reached": e.trl_reached,
                "note": e.note,
                "at": e.created_at,
            }
        )


class PlatformCard(BaseModel):
    """A platform's public profile as an introduction shows it (its contact is public, as on its profile)."""

    id: int
    name: str
    name_en: str | None = None
    organization: str | None = None
    province: str | None = None
    city: str | None = None
    tier: str
    website: str | None = None
    contact: str | None = None


class TechnologyCard(BaseModel):
    """The technology as its introduction shows it; ``contact`` (the researcher's) from the introduction on."""

    id: int
    title: str | None = None
    summary: str
    trl: int | None = None
    contact: str | None = None


class IntroductionView(BaseModel):
    id: int
    technology_id: int
    platform_id: int
    status: Status
    declined_by: Literal["researcher", "platform"] | None = None
    message: str | None = Field(None, description="The researcher's message with the request.")
    outcome: Outcome | None = None
    trl_reached: int | None = None
    note: str | None = None
    introduced_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    platform: PlatformCard
    technology: TechnologyCard
    events: list[EventOut]

    @classmethod
    def of(
        cls,
        intro: Introduction,
        platform: Platform,
        technology: TechnologyRead,
        events: list[IntroductionEvent],
        *,
        viewer: Actor,
    ) -> IntroductionView:
        """The introduction as ``viewer`` may see it: the researcher's contact reaches the platform only once the
        introduction is made (it stays once given); the researcher always sees their own, and the platform's
        contact is its public profile's."""
        card = PlatformCard.model_validate(platform, from_attributes=True)
        tech = TechnologyCard.model_validate(technology.model_dump())
        if intro.introduced_at is None and viewer == "platform":
            tech = tech.model_copy(update={"contact": None})
        return cls(
            **{
                k: getattr(intro, k)
                for k in cls.model_fields
                if k not in ("platform", "technology", "events")
            },
            platform=card,
            technology=tech,
            events=[EventOut.of(e) for e in events],
        )

    def moves(self) -> tuple[str, ...]:
        """The statuses a PATCH may move this introduction to now, for forms that offer only legal moves: before
        the introduction, ``declined`` while it is requested; once made, any later stage or ``withdrawn``, until
        it is completed or withdrawn. ``move_introduction`` enforces the same rules."""
        if self.introduced_at is None:
            return ("declined",) if self.status == "requested" else ()
        if self.status in ("completed", "withdrawn"):
            return ()
        return (*STAGES[STAGES.index(self.status) + 1 :], "withdrawn")


class ResponseState(BaseModel):
    """The platform's answer to a technology, as the platform sees it beside the technology."""

    decision: Literal["interested", "declined"]
    reason: str | None = None
    responded_at: datetime


class IntroductionState(BaseModel):
    id: int
    status: str


class PairStates:
    """A platform's answers and introductions by technology id, for lists it sees (inbox, technologies that fit)."""

    def __init__(
        self, responses: Mapping[int, PlatformResponse], introductions: Mapping[int, Introduction]
    ) -> None:
        self.responses, self.introductions = responses, introductions

    def of(self, technology_id: int | None) -> dict[str, Any]:
        r = self.responses.get(technology_id)  # type: ignore[arg-type]
        i = self.introductions.get(technology_id)  # type: ignore[arg-type]
        return {
            "response": ResponseState.model_validate(r, from_attributes=True) if r is not None else None,
            "introduction": IntroductionState(id=i.id, status=i.status) if i is not None else None,
        }
