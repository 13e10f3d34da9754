"""A platform's inbox, webhook endpoints and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.deps import AdminDep, PlatformAccessDep, RuntimeDep
from matcher.accounts import service as keys
from matcher.notifications import service
from matcher.notifications.delivery import send_test_event
from matcher.notifications.models import Notification, WebhookDelivery, WebhookEndpoint

router = APIRouter(prefix="/v1/platforms/{platform_id}", tags=["notifications"])


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    endpoint_id: int
    msg_id: str = Field(description="The `webhook-id` header, the same on every retry.")
    status: str = Field(description="pending, succeeded or dead (dead-lettered after the last retry).")
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None


class NotificationOut(BaseModel):
    id: int
    type: str
    technology_id: int | None
    score: float | None
    data: dict
    created_at: datetime
    read_at: datetime | None
    deliveries: list[DeliveryOut]

    @classmethod
    def of(cls, n: Notification, deliveries: list[WebhookDelivery]) -> NotificationOut:
        return cls(
            id=n.id,  # type: ignore[arg-type]
            type=n.type,
            technology_id=n.technology_id,
            score=n.score,
            data=n.payload.get("data", {}),
            created_at=n.created_at,
            read_at=n.read_at,
            deliveries=[DeliveryOut.model_validate(d) for d in deliveries],
        )


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    next_cursor: str | None


class WebhookCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"url": "https://portal.example.cn/hooks/pilotmatch"}]},
    )

    url: Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=2000)]
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None


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


@router.get("/notifications", response_model=NotificationPage, summary="The platform's inbox, newest first")
def inbox(
    platform_id: int,
    rt: RuntimeDep,
    _: PlatformAccessDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> NotificationPage:
    page, next_cursor = service.list_notifications(rt, platform_id, cursor=cursor, limit=limit)
    return NotificationPage(items=[NotificationOut.of(n, d) for n, d in page], next_cursor=next_cursor)


@router.post("/notifications/{notification_id}/read", response_model=NotificationOut, summary="Mark as read")
def read(platform_id: int, notification_id: int, rt: RuntimeDep, _: PlatformAccessDep) -> NotificationOut:
    note = service.mark_read(rt, platform_id, notification_id)
    return NotificationOut.of(note, service.deliveries_of(rt, notification_id))


@router.post(
    "/notifications/{notification_id}/redeliver",
    status_code=202,
    response_model=NotificationOut,
    summary="Queue the dead-lettered webhook deliveries of a notification again",
)
def redeliver(
    platform_id: int, notification_id: int, rt: RuntimeDep, _: PlatformAccessDep
) -> NotificationOut:
    service.redeliver(rt, platform_id, notification_id)
    note = service.get_notification(rt, platform_id, notification_id)
    return NotificationOut.of(note, service.deliveries_of(rt, notification_id))


@router.post(
    "/webhooks", status_code=201, response_model=WebhookSecretOut, summary="Register a webhook endpoint"
)
def create_webhook(
    platform_id: int, body: WebhookCreate, rt: RuntimeDep, _: PlatformAccessDep
) -> WebhookSecretOut:
    ep = service.create_endpoint(rt, platform_id, body.url, body.description)
    return WebhookSecretOut.of(ep)


@router.get("/webhooks", response_model=list[WebhookOut], summary="The platform's webhook endpoints")
def list_webhooks(platform_id: int, rt: RuntimeDep, _: PlatformAccessDep) -> list[WebhookOut]:
    return [WebhookOut.model_validate(e) for e in service.list_endpoints(rt, platform_id)]


@router.delete("/webhooks/{webhook_id}", status_code=204, summary="Delete a webhook endpoint")
def delete_webhook(platform_id: int, webhook_id: int, rt: RuntimeDep, _: PlatformAccessDep) -> Response:
    service.delete_endpoint(rt, platform_id, webhook_id)
    return Response(status_code=204)


@router.post(
    "/webhooks/{webhook_id}/rotate-secret",
    response_model=WebhookSecretOut,
    summary="Replace the signing secret",
)
def rotate(platform_id: int, webhook_id: int, rt: RuntimeDep, _: PlatformAccessDep) -> WebhookSecretOut:
    ep = service.rotate_secret(rt, platform_id, webhook_id)
    return WebhookSecretOut.of(ep)


@router.post("/webhooks/{webhook_id}/test", response_model=TestResult, summary="Send a signed test event now")
def test_webhook(platform_id: int, webhook_id: int, rt: RuntimeDep, _: PlatformAccessDep) -> TestResult:
    result = send_test_event(rt, service.get_endpoint(rt, platform_id, webhook_id))
    return TestResult(
        ok=result.ok,
        status_code=result.status_code,
        error=result.error,
        duration_ms=round(result.duration_ms, 2),
    )


@router.post(
    "/keys", status_code=201, response_model=KeyCreated, summary="Issue this platform its own API key"
)
def create_key(platform_id: int, rt: RuntimeDep, _: AdminDep) -> KeyCreated:
    row, key = keys.create_platform_key(rt, platform_id)
    return KeyCreated(id=row.id, key=key)  # type: ignore[arg-type]


@router.get("/keys", response_model=list[KeyOut], summary="The platform's keys (prefixes and last use only)")
def list_keys(platform_id: int, rt: RuntimeDep, _: AdminDep) -> list[KeyOut]:
    return [KeyOut.model_validate(k) for k in keys.list_platform_keys(rt, platform_id)]


@router.delete("/keys/{key_id}", status_code=204, summary="Revoke a key at once")
def revoke_key(platform_id: int, key_id: int, rt: RuntimeDep, _: AdminDep) -> Response:
    keys.revoke_platform_key(rt, platform_id, key_id)
    return Response(status_code=204)
