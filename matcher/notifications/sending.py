"""Sending one webhook event: signed per Standard Webhooks, bounded in time and size, and never raising.

Connections go through ``transport.PinnedTransport``: the target's name is resolved once per connection, every
address is checked, and the socket is opened to a checked address (no DNS rebinding). The delivery worker sends
queued deliveries with ``sign_and_send``; ``send_test_event`` sends a platform's test event now.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook

from matcher.errors import InvalidInput
from matcher.notifications.models import WebhookEndpoint
from matcher.notifications.transport import delivery_client
from matcher.notifications.url_guard import normalise_webhook_url
from matcher.settings import Settings

log = logging.getLogger("pilotmatch.delivery")

MAX_RESPONSE_BYTES = 64 * 1024
STORED_ERROR_CHARS = 500
USER_AGENT = "PilotMatch-Webhooks/1"


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    status_code: int | None
    error: str | None
    body: str | None
    duration_ms: float


def sign_and_send(client: httpx.Client, url: str, secret: str, msg_id: str, body: str) -> SendResult:
    """POST one signed event; never follows redirects, reads at most 64 KiB of the answer for at most the client's
    time-out, and never raises: a refused or malformed target, a bad secret or any other error is a failed result.
    """
    started = time.perf_counter()

    def failed(error: str) -> SendResult:
        return SendResult(
            False, None, error[:STORED_ERROR_CHARS], None, (time.perf_counter() - started) * 1000
        )

    try:
        url = normalise_webhook_url(url)
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, now, body),
        }
        budget = client.timeout.read or 10.0
        with client.stream("POST", url, content=body.encode(), headers=headers) as response:
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                # A receiver that drips its answer must not hold the worker longer than one time-out.
                if size >= MAX_RESPONSE_BYTES or time.perf_counter() - started > budget:
                    break
            text = b"".join(chunks)[:MAX_RESPONSE_BYTES].decode("utf-8", "replace")
            ok = 200 <= response.status_code < 300
            error = None if ok else f"HTTP {response.status_code}"
            return SendResult(ok, response.status_code, error, text, (time.perf_counter() - started) * 1000)
    except InvalidInput as exc:  # the URL is malformed, or its host resolves to a refused address
        return failed(f"refused: {exc.detail}")
    except (httpx.HTTPError, OSError) as exc:
        return failed(f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # a broken secret, an unexpected error in the HTTP stack: this send alone fails
        log.exception("event=send_error msg_id=%s", msg_id)
        return failed(f"internal error: {type(exc).__name__}: {exc}")


def send_test_event(settings: Settings, endpoint: WebhookEndpoint) -> SendResult:
    """Send a signed ``webhook.test`` event to one endpoint now (not queued, not retried). Never raises."""
    body = json.dumps(
        {
            "type": "webhook.test",
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "data": {"platform_id": endpoint.platform_id, "endpoint_id": endpoint.id},
        },
        separators=(",", ":"),
    )
    with delivery_client(
        settings.webhook_timeout_seconds, allow_private=settings.webhook_allow_private
    ) as client:
        return sign_and_send(client, endpoint.url, endpoint.secret, f"msg_test_{uuid.uuid4().hex}", body)
