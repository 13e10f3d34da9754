"""The delivery worker: sends due webhook deliveries, signed per Standard Webhooks, with retries.

Each delivery is claimed with one conditional UPDATE (lease owner and expiry) before it is sent, so several
workers, threads or processes never send one delivery at the same time, and a killed worker's claim lapses
after ``webhook_lease_seconds`` and is picked up again. Every attempt is recorded with a bounded copy of the answer.
Any non-2xx answer, time-out or connection error is retried after the configured delays (with jitter); after
the last one the delivery is dead-lettered (visible in the inbox, re-sendable). An endpoint that has failed for
``webhook_disable_after_hours`` without a success is disabled and the platform is told in its inbox.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import or_, update
from sqlmodel import select
from standardwebhooks import Webhook

from matcher.dbtypes import utcnow
from matcher.errors import InvalidInput
from matcher.notifications.email import send_digests
from matcher.notifications.models import Notification, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from matcher.notifications.service import ENDPOINT_DISABLED, match_pending, queue_depth
from matcher.notifications.url_guard import check_webhook_url
from matcher.observability import DELIVERIES
from matcher.runtime import Runtime

log = logging.getLogger("pilotmatch.delivery")

MAX_RESPONSE_BYTES = 64 * 1024
STORED_RESPONSE_CHARS = 2000
USER_AGENT = "PilotMatch-Webhooks/1"


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    status_code: int | None
    error: str | None
    body: str | None
    duration_ms: float


def new_client(timeout: float) -> httpx.Client:
    """An HTTP client for deliveries: no redirects followed, no proxy settings from the environment."""
    return httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False)


def sign_and_send(
    client: httpx.Client, url: str, secret: str, msg_id: str, body: str, *, allow_private: bool
) -> SendResult:
    """POST one signed event; never follows redirects, reads at most 64 KiB of the answer."""
    started = time.perf_counter()
    try:
        check_webhook_url(url, allow_private=allow_private)
    except InvalidInput as exc:
        return SendResult(False, None, f"refused: {exc.detail}", None, 0.0)
    now = datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, body),
    }
    try:
        with client.stream("POST", url, content=body.encode(), headers=headers) as response:
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size >= MAX_RESPONSE_BYTES:
                    break
            text = b"".join(chunks)[:MAX_RESPONSE_BYTES].decode("utf-8", "replace")
            ok = 200 <= response.status_code < 300
            error = None if ok else f"HTTP {response.status_code}"
            return SendResult(ok, response.status_code, error, text, (time.perf_counter() - started) * 1000)
    except (httpx.HTTPError, OSError) as exc:
        return SendResult(
            False, None, f"{type(exc).__name__}: {exc}"[:500], None, (time.perf_counter() - started) * 1000
        )


class DeliveryWorker:
    """Claims and sends due deliveries; ``run`` loops until stopped, also catching up on unmatched rows."""

    def __init__(self, rt: Runtime, owner: str | None = None) -> None:
        self.rt = rt
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stop_event = threading.Event()
        self.lease_seconds = rt.settings.webhook_lease_seconds
        # One client per worker: connections to a receiver are reused across deliveries.
        self.client = new_client(rt.settings.webhook_timeout_seconds)

    # ---- claiming ------------------------------------------------------------------------------------------
    def claim(self, limit: int = 50) -> list[int]:
        now = utcnow()
        with self.rt.session() as s:
            due = s.exec(
                select(WebhookDelivery.id)
                .where(
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.next_attempt_at <= now,
                    or_(WebhookDelivery.lease_until == None, WebhookDelivery.lease_until < now),  # noqa: E711
                )
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(limit)
            ).all()
            claimed = []
            for did in due:
                result = s.exec(  # type: ignore[call-overload]
                    update(WebhookDelivery)
                    .where(
                        WebhookDelivery.id == did,
                        WebhookDelivery.status == "pending",
                        or_(WebhookDelivery.lease_until == None, WebhookDelivery.lease_until < now),  # noqa: E711
                    )
                    .values(lease_owner=self.owner, lease_until=now + timedelta(seconds=self.lease_seconds))
                )
                if result.rowcount == 1:
                    claimed.append(did)
            s.commit()
        return claimed  # type: ignore[return-value]

    def release_all(self) -> None:
        """Give back claims on shutdown so another worker need not wait for the lease to lapse."""
        with self.rt.session() as s:
            s.exec(  # type: ignore[call-overload]
                update(WebhookDelivery)
                .where(WebhookDelivery.lease_owner == self.owner, WebhookDelivery.status == "pending")
                .values(lease_owner=None, lease_until=None)
            )
            s.commit()

    # ---- sending -------------------------------------------------------------------------------------------
    def deliver(self, delivery_id: int) -> bool:
        settings = self.rt.settings
        with self.rt.session() as s:
            d = s.get(WebhookDelivery, delivery_id)
            if d is None or d.status != "pending" or d.lease_owner != self.owner:
                return False
            ep = s.get(WebhookEndpoint, d.endpoint_id)
            note = s.get(Notification, d.notification_id)
        if ep is None or note is None:
            return False
        if not ep.active:
            self._finish(
                delivery_id, ep.id, SendResult(False, None, "endpoint disabled", None, 0.0), final=True
            )  # type: ignore[arg-type]
            return False
        body = json.dumps(note.payload, ensure_ascii=False, separators=(",", ":"))
        result = sign_and_send(
            self.client, ep.url, ep.secret, d.msg_id, body, allow_private=settings.webhook_allow_private
        )
        self._finish(delivery_id, ep.id, result, final=False)  # type: ignore[arg-type]
        DELIVERIES.labels("succeeded" if result.ok else "failed").inc()
        return result.ok

    def _finish(self, delivery_id: int, endpoint_id: int, result: SendResult, *, final: bool) -> None:
        delays = self.rt.settings.retry_delays
        now = utcnow()
        with self.rt.session() as s:
            d = s.get(WebhookDelivery, delivery_id)
            ep = s.get(WebhookEndpoint, endpoint_id)
            if d is None or ep is None:
                return
            s.add(
                WebhookAttempt(
                    delivery_id=delivery_id,
                    status_code=result.status_code,
                    error=result.error,
                    response_body=(result.body or "")[:STORED_RESPONSE_CHARS] or None,
                    duration_ms=round(result.duration_ms, 2),
                )
            )
            d.attempts += 1
            d.last_status_code, d.last_error = result.status_code, result.error
            d.lease_owner, d.lease_until, d.updated_at = None, None, now
            if result.ok:
                d.status = "succeeded"
                ep.failing_since = None
            else:
                if final or d.attempts > len(delays):
                    d.status = "dead"
                else:
                    delay = delays[d.attempts - 1] * random.uniform(0.8, 1.2)
                    d.next_attempt_at = now + timedelta(seconds=delay)
                ep.failing_since = ep.failing_since or now
                limit = timedelta(hours=self.rt.settings.webhook_disable_after_hours)
                if ep.active and now - ep.failing_since >= limit:
                    ep.active = False
                    ep.disabled_reason = f"failing since {ep.failing_since.isoformat(timespec='seconds')}"
                    s.add(
                        Notification(
                            platform_id=ep.platform_id,
                            technology_id=None,
                            type=ENDPOINT_DISABLED,
                            payload={
                                "type": ENDPOINT_DISABLED,
                                "timestamp": now.isoformat(timespec="seconds"),
                                "data": {"endpoint_id": ep.id, "url": ep.url, "reason": ep.disabled_reason},
                            },
                        )
                    )
                    log.warning("event=endpoint_disabled endpoint=%s url=%s", ep.id, ep.url)
            s.add(d)
            s.add(ep)
            s.commit()
        log.info(
            "event=delivery delivery=%s ok=%s status=%s error=%s",
            delivery_id,
            result.ok,
            result.status_code,
            result.error,
        )

    # ---- loop ----------------------------------------------------------------------------------------------
    def run_once(self) -> int:
        """Catch up on unmatched rows, then send every due delivery once; returns how many were sent OK."""
        match_pending(self.rt)
        queue_depth(self.rt)
        if self.rt.follower is not None:
            self.rt.follower.prune()
        sent = 0
        for did in self.claim():
            if self.stop_event.is_set():
                break
            sent += self.deliver(did)
        try:
            send_digests(self.rt)
        except Exception:  # e-mail trouble must never hold up webhooks
            log.exception("event=email_error")
        return sent

    def run(self) -> None:
        log.info("event=worker_started owner=%s", self.owner)
        try:
            while not self.stop_event.is_set():
                try:
                    self.run_once()
                except Exception:  # a bad row must not stop deliveries for everyone
                    log.exception("event=worker_error")
                self.stop_event.wait(self.rt.settings.worker_poll_seconds)
        finally:
            self.release_all()
            self.client.close()
            log.info("event=worker_stopped owner=%s", self.owner)

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="pilotmatch-delivery", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stop_event.set()


def send_test_event(rt: Runtime, endpoint: WebhookEndpoint) -> SendResult:
    """Send a signed ``webhook.test`` event to one endpoint now (not queued, not retried)."""
    body = json.dumps(
        {
            "type": "webhook.test",
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "data": {"platform_id": endpoint.platform_id, "endpoint_id": endpoint.id},
        },
        separators=(",", ":"),
    )
    with new_client(rt.settings.webhook_timeout_seconds) as client:
        return sign_and_send(
            client,
            endpoint.url,
            endpoint.secret,
            f"msg_test_{uuid.uuid4().hex}",
            body,
            allow_private=rt.settings.webhook_allow_private,
        )
