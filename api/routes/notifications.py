"""A platform's inbox and webhook endpoints (its API keys are in ``api.routes.keys``)."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from api.deps import PlatformAccessDep, RuntimeDep
from api.params import RowId
from api.problems import problem, problem_responses
from matcher import Settings, pair_states
from matcher.notifications import endpoints
from matcher.notifications import inbox as inboxes
from matcher.notifications.schemas import (
    NotificationOut,
    NotificationPage,
    NotificationType,
    TestResult,
    WebhookCreate,
    WebhookOut,
    WebhookSecretOut,
)
from matcher.notifications.tester import WebhookTestBusy, WebhookTester

log = logging.getLogger("pilotmatch.api")

router = APIRouter(prefix="/v1/platforms/{platform_id}", tags=["notifications"])

#: What every route under a platform can answer: no or a bad key (401), a missing platform or one this key may
#: not see (404), a malformed id (422).
_PLATFORM = (401, 404, 422)


@router.get(
    "/notifications",
    response_model=NotificationPage,
    summary="The platform's inbox, newest first",
    responses=problem_responses(*_PLATFORM),
)
def inbox(
    platform_id: RowId,
    rt: RuntimeDep,
    _: PlatformAccessDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    type: Annotated[NotificationType | None, Query(description="Only notifications of this type.")] = None,
) -> NotificationPage:
    page, next_cursor = inboxes.list_notifications(rt.db, platform_id, cursor=cursor, limit=limit, type=type)
    states = pair_states(
        rt.db, platform_id, [n.technology_id for n, _ in page if n.technology_id is not None]
    )
    return NotificationPage(
        items=[NotificationOut.of(n, d, states) for n, d in page], next_cursor=next_cursor
    )


@router.post(
    "/notifications/{notification_id}/read",
    response_model=NotificationOut,
    summary="Mark as read",
    responses=problem_responses(*_PLATFORM),
)
def read(platform_id: RowId, notification_id: RowId, rt: RuntimeDep, _: PlatformAccessDep) -> NotificationOut:
    note = inboxes.mark_read(rt.db, platform_id, notification_id)
    return NotificationOut.of(note, inboxes.deliveries_of(rt.db, notification_id))


@router.post(
    "/notifications/{notification_id}/redeliver",
    status_code=202,
    response_model=NotificationOut,
    summary="Queue the dead-lettered webhook deliveries of a notification again",
    responses=problem_responses(*_PLATFORM),
)
def redeliver(
    platform_id: RowId, notification_id: RowId, rt: RuntimeDep, _: PlatformAccessDep
) -> NotificationOut:
    inboxes.redeliver(rt.db, platform_id, notification_id)
    note = inboxes.get_notification(rt.db, platform_id, notification_id)
    return NotificationOut.of(note, inboxes.deliveries_of(rt.db, notification_id))


@router.post(
    "/webhooks",
    status_code=201,
    response_model=WebhookSecretOut,
    summary="Register a webhook endpoint",
    description="The URL is checked (http or https, no control characters, a valid host and port, and a host "
    "that resolves only to public addresses) and stored in normal form. 409 when the platform already has "
    "`PILOTMATCH_WEBHOOKS_PER_PLATFORM` endpoints (default 5).",
    responses=problem_responses(401, 404, 409, 413, 422),
)
def create_webhook(
    platform_id: RowId, body: WebhookCreate, rt: RuntimeDep, principal: PlatformAccessDep
) -> WebhookSecretOut:
    ep = endpoints.create_endpoint(rt.db, rt.settings, platform_id, body.url, body.description, principal)
    return WebhookSecretOut.of(ep)


@router.get(
    "/webhooks",
    response_model=list[WebhookOut],
    summary="The platform's webhook endpoints",
    responses=problem_responses(*_PLATFORM),
)
def list_webhooks(platform_id: RowId, rt: RuntimeDep, _: PlatformAccessDep) -> list[WebhookOut]:
    return [WebhookOut.model_validate(e) for e in endpoints.list_endpoints(rt.db, platform_id)]


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=204,
    summary="Delete a webhook endpoint",
    responses=problem_responses(*_PLATFORM),
)
def delete_webhook(
    platform_id: RowId, webhook_id: RowId, rt: RuntimeDep, principal: PlatformAccessDep
) -> Response:
    endpoints.delete_endpoint(rt.db, platform_id, webhook_id, principal)
    return Response(status_code=204)


@router.post(
    "/webhooks/{webhook_id}/rotate-secret",
    response_model=WebhookSecretOut,
    summary="Replace the signing secret",
    responses=problem_responses(*_PLATFORM),
)
def rotate(
    platform_id: RowId, webhook_id: RowId, rt: RuntimeDep, principal: PlatformAccessDep
) -> WebhookSecretOut:
    ep = endpoints.rotate_secret(rt.db, platform_id, webhook_id, principal)
    return WebhookSecretOut.of(ep)


def _tester(request: Request, settings: Settings) -> WebhookTester:
    """The app's one tester (created on first use; the event loop runs this, so there is no race)."""
    tester = getattr(request.app.state, "webhook_tester", None)
    if tester is None:
        tester = request.app.state.webhook_tester = WebhookTester(settings)
    return tester


@router.post(
    "/webhooks/{webhook_id}/test",
    response_model=TestResult,
    summary="Send a signed test event now",
    description="Sends on its own few threads, one test at a time per platform: while one is in flight, another "
    "answers 429 with `Retry-After`. A target that fails, is refused or is malformed is reported in the body "
    "(`ok: false`, `error`), never as an error status.",
    responses=problem_responses(*_PLATFORM, 429),
)
async def test_webhook(
    platform_id: RowId, webhook_id: RowId, request: Request, rt: RuntimeDep, _: PlatformAccessDep
) -> Response | TestResult:
    endpoint = await run_in_threadpool(endpoints.get_endpoint, rt.db, platform_id, webhook_id)
    try:
        future = _tester(request, rt.settings).submit(endpoint)
    except WebhookTestBusy as exc:
        busy = problem(429, exc.detail, exc.title, instance=request.url.path)
        busy.headers["Retry-After"] = str(exc.retry_after)
        return busy
    try:
        result = await asyncio.wrap_future(future)
    except Exception as exc:  # send_test_event does not raise; this is the executor itself failing
        log.exception("event=webhook_test_error endpoint=%s", webhook_id)
        return TestResult(
            ok=False, status_code=None, error=f"internal error: {type(exc).__name__}", duration_ms=0
        )
    return TestResult(
        ok=result.ok,
        status_code=result.status_code,
        error=result.error,
        duration_ms=round(result.duration_ms, 2),
    )
