"""What the notification routes accept and answer: the inbox, its deliveries, and webhook endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from matcher.engagements.schemas import IntroductionState, PairStates, ResponseState
from matcher.fields import PlainText, ShortText, coded
from matcher.notifications.models import Notification, WebhookDelivery, WebhookEndpoint


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    endpoint_id: int
    msg_id: str = Field(description="The `webhook-id` header, the same on every retry.")
    status: str = Field(description="pending, succeeded or dead (dead-lettered after the last retry).")
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None


NotificationType = Annotated[
    Literal[
        "match.created",
        "introduction.requested",
        "introduction.made",
        "engagement.updated",
        "response.reminder",
        "profile.confirm_requested",
        "endpoint.disabled",
        "assignment.made",
    ],
    coded(
        "Notification type (通知类型).",
        {
            "match.created": ("新匹配", "A technology that fits the platform"),
            "introduction.requested": ("请求引荐", "A researcher asks to meet the platform"),
            "introduction.made": ("已引荐", "Both sides said yes: contacts shared"),
            "engagement.updated": ("对接进展", "An introduction was declined or moved along"),
            "response.reminder": ("待答复提醒", "A notified technology not answered yet"),
            "profile.confirm_requested": ("请确认平台信息", "Confirm the profile is still true"),
            "endpoint.disabled": ("回调已停用", "A webhook endpoint was switched off"),
            "assignment.made": ("对接会分配", "A programme assigned the technology to the platform"),
        },
    ),
]


class NotificationOut(BaseModel):
    id: int
    type: NotificationType
    technology_id: int | None
    score: float | None
    data: dict
    created_at: datetime
    read_at: datetime | None
    deliveries: list[DeliveryOut]
    response: ResponseState | None = Field(
        None, description="The platform's answer to the technology, if any."
    )
    introduction: IntroductionState | None = Field(
        None, description="The introduction with the technology's researcher, if one was asked for."
    )

    @classmethod
    def of(
        cls, n: Notification, deliveries: list[WebhookDelivery], states: PairStates | None = None
    ) -> NotificationOut:
        return cls(
            id=n.id,  # type: ignore[arg-type]
            type=n.type,  # type: ignore[arg-type]
            technology_id=n.technology_id,
            score=n.score,
            data=n.payload.get("data", {}),
            created_at=n.created_at,
            read_at=n.read_at,
            deliveries=[DeliveryOut.model_validate(d) for d in deliveries],
            **(states.of(n.technology_id) if states is not None and n.technology_id is not None else {}),
        )


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    next_cursor: str | None


class WebhookCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"url": "https://portal.example.cn/hooks/pilotmatch"}]},
    )

    #: Not stripped: a URL with whitespace or control characters anywhere is refused, never silently repaired.
    url: Annotated[
        str,
        Field(
            min_length=8,
            max_length=2000,
            description="An http(s) URL whose host resolves only to public addresses; stored in normal form.",
        ),
        PlainText,
    ]
    description: ShortText | None = None


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    description: str | None
    active: bool
    disabled_reason: str | None
    created_at: datetime


class WebhookSecretOut(BaseModel):
    id: int
    url: str
    description: str | None = None
    secret: str = Field(description="`whsec_<base64>`; shown only now. Verify deliveries with it.")

    @classmethod
    def of(cls, ep: WebhookEndpoint) -> WebhookSecretOut:
        return cls(id=ep.id, url=ep.url, description=ep.description, secret=ep.secret)  # type: ignore[arg-type]


class TestResult(BaseModel):
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: float
