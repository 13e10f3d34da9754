"""The delivery worker: sends due webhook deliveries, signed per Standard Webhooks, with retries.

Each delivery is claimed with one conditional UPDATE (lease owner and expiry) before it is sent, so several
workers, threads or processes never send one delivery at the same time, and a killed worker's claim lapses
after ``webhook_lease_seconds`` and is picked up again. Every attempt is recorded with a bounded copy of the answer.
Any non-2xx answer, time-out or connection error is retried after the configured delays (with jitter); after
the last one the delivery is dead-lettered (visible in the inbox, re-sendable). An endpoint that has failed for
``webhook_disable_after_hours`` without a success is disabled and the platform is told in its inbox.

Connections go through ``transport.PinnedTransport``: the target's name is resolved once per connection, every
address is checked, and the socket is opened to a checked address (no DNS rebinding). Whatever goes wrong with one
delivery (a malformed stored URL, a broken secret, a failure while recording) is recorded as a failed attempt of
that delivery alone; the worker goes on with the others, and e-mail digests are sent in every pass.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import socket
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import or_, update
from sqlmodel import select
from standardwebhooks import Webhook

from matcher.dbtypes import utcnow
from matcher.errors import InvalidInput, PilotMatchError
from matcher.notifications.email import send_digests
from matcher.notifications.models import Notification, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from matcher.notifications.service import ENDPOINT_DISABLED, match_pending, queue_depth
from matcher.notifications.transport import delivery_client
from matcher.notifications.url_guard import normalise_webhook_url
from matcher.observability import DELIVERIES
from matcher.runtime import Runtime

log = logging.getLogger("pilotmatch.delivery")

MAX_RESPONSE_BYTES = 64 * 1024
STORED_RESPONSE_CHARS = 2000
STORED_ERROR_CHARS = 500
USER_AGENT = "PilotMatch-Webhooks/1"


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    status_code: int | None
    error: str | None
    body: str | None
    duration_ms: float


def _storable(text: str | None, limit: int) -> str | None:
    """Text as the database can keep it: bounded, and without NUL (PostgreSQL refuses it in text columns)."""
    return text.replace("\x00", "\ufffd")[:limit] if text else None


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


class DeliveryWorker:
    """Claims and sends due deliveries; ``run`` loops until stopped, also catching up on unmatched rows."""

    def __init__(self, rt: Runtime, owner: str | None = None) -> None:
        self.rt = rt
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stop_event = threading.Event()
        self.lease_seconds = rt.settings.webhook_lease_seconds
        # One client per worker: connections to a receiver are reused across deliveries (each was opened to an
        # address checked when it was opened).
        self.client = delivery_client(
            rt.settings.webhook_timeout_seconds, allow_private=rt.settings.webhook_allow_private
        )

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
        """Send one claimed delivery and record the attempt; returns whether it succeeded. Never raises: an error
        anywhere (loading, signing, sending, recording) is recorded as a failed attempt of this delivery."""
        try:
            return self._deliver(delivery_id)
        except Exception as exc:
            log.exception("event=delivery_error delivery=%s", delivery_id)
            self._record_failure(delivery_id, f"internal error: {type(exc).__name__}: {exc}")
            DELIVERIES.labels("failed").inc()
            return False

    def _deliver(self, delivery_id: int) -> bool:
        with self.rt.session() as s:
            d = s.get(WebhookDelivery, delivery_id)
            if d is None or d.status != "pending" or d.lease_owner != self.owner:
                return False
            ep = s.get(WebhookEndpoint, d.endpoint_id)
            note = s.get(Notification, d.notification_id)
        if ep is None or note is None:
            return False
        if not ep.active:
            self._finish(delivery_id, SendResult(False, None, "endpoint disabled", None, 0.0), final=True)
            return False
        body = json.dumps(note.payload, ensure_ascii=False, separators=(",", ":"))
        result = sign_and_send(self.client, ep.url, ep.secret, d.msg_id, body)
        self._finish(delivery_id, result, final=False)
        DELIVERIES.labels("succeeded" if result.ok else "failed").inc()
        return result.ok

    def _next_attempt(self, attempts: int, now: datetime, *, final: bool) -> tuple[str, datetime | None]:
        """The status and next attempt time after ``attempts`` failed attempts."""
        delays = self.rt.settings.retry_delays
        if final or attempts > len(delays):
            return "dead", None
        return "pending", now + timedelta(seconds=delays[attempts - 1] * random.uniform(0.8, 1.2))

    def _record_failure(self, delivery_id: int, error: str) -> None:
        """Record a failed attempt on the delivery row alone (no endpoint bookkeeping), for when the full record
        could not be made; if even that fails, the lease lapses and the delivery is tried again later."""
        try:
            now = utcnow()
            with self.rt.session() as s:
                d = s.get(WebhookDelivery, delivery_id)
                if d is None or d.lease_owner != self.owner or d.status != "pending":
                    return
                error = _storable(error, STORED_ERROR_CHARS) or "internal error"
                s.add(WebhookAttempt(delivery_id=delivery_id, error=error, duration_ms=0.0))
                d.attempts += 1
                d.last_status_code, d.last_error = None, error
                d.status, next_at = self._next_attempt(d.attempts, now, final=False)
                d.next_attempt_at = next_at or d.next_attempt_at
                d.lease_owner, d.lease_until, d.updated_at = None, None, now
                s.add(d)
                s.commit()
        except Exception:
            log.exception("event=delivery_record_error delivery=%s", delivery_id)

    def _finish(self, delivery_id: int, result: SendResult, *, final: bool) -> None:
        now = utcnow()
        error = _storable(result.error, STORED_ERROR_CHARS)
        with self.rt.session() as s:
            d = s.get(WebhookDelivery, delivery_id)
            ep = s.get(WebhookEndpoint, d.endpoint_id) if d is not None else None
            if d is None or ep is None:
                return
            s.add(
                WebhookAttempt(
                    delivery_id=delivery_id,
                    status_code=result.status_code,
                    error=error,
                    response_body=_storable(result.body, STORED_RESPONSE_CHARS),
                    duration_ms=round(result.duration_ms, 2),
                )
            )
            d.attempts += 1
            d.last_status_code, d.last_error = result.status_code, error
            d.lease_owner, d.lease_until, d.updated_at = None, None, now
            if result.ok:
                d.status = "succeeded"
                ep.failing_since = None
            else:
                d.status, next_at = self._next_attempt(d.attempts, now, final=final)
                d.next_attempt_at = next_at or d.next_attempt_at
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
        """Catch up on unmatched rows, send every due delivery once, then the due e-mail digests; returns how many
        deliveries were sent OK. Each step runs even if an earlier one failed: trouble in one (a bad row, an SMTP
        outage) never holds up the others."""
        for step, name in ((match_pending, "matching"), (queue_depth, "queue_depth"), (self._prune, "prune")):
            try:
                step(self.rt)
            except Exception:
                log.exception("event=worker_error step=%s", name)
        sent = 0
        try:
            for did in self.claim():
                if self.stop_event.is_set():
                    break
                sent += self.deliver(did)
        except Exception:  # claiming failed (the database is away); the next pass tries again
            log.exception("event=worker_error step=claim")
        try:
            send_digests(self.rt)
        except Exception:
            log.exception("event=email_error")
        return sent

    @staticmethod
    def _prune(rt: Runtime) -> None:
        if rt.follower is not None:
            rt.follower.prune()

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
    """Send a signed ``webhook.test`` event to one endpoint now (not queued, not retried). Never raises."""
    body = json.dumps(
        {
            "type": "webhook.test",
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "data": {"platform_id": endpoint.platform_id, "endpoint_id": endpoint.id},
        },
        separators=(",", ":"),
    )
    settings = rt.settings
    with delivery_client(
        settings.webhook_timeout_seconds, allow_private=settings.webhook_allow_private
    ) as client:
        return sign_and_send(client, endpoint.url, endpoint.secret, f"msg_test_{uuid.uuid4().hex}", body)


class WebhookTestBusy(PilotMatchError):
    """A test event cannot start now: one is being sent for this platform, or too many are in flight."""

    title = "A webhook test is already in flight"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class WebhookTester:
    """Sends test events on its own few threads, one at a time per platform.

    A test waits on someone else's server for up to the delivery time-out; run on the API's request threads, many
    of them at once would starve every other request. Here at most ``max_running`` run at once, each with its own
    thread (nothing queues), and a platform's second test is refused while its first is in flight.
    """

    def __init__(self, rt: Runtime, max_running: int = 4) -> None:
        self.rt = rt
        self.max_running = max_running
        self._executor = ThreadPoolExecutor(
            max_workers=max_running, thread_name_prefix="pilotmatch-webhook-test"
        )
        self._in_flight: set[int] = set()
        self._lock = threading.Lock()

    @property
    def retry_after(self) -> int:
        """Seconds after which a refused caller may try again: one send's time-out."""
        return max(1, math.ceil(self.rt.settings.webhook_timeout_seconds))

    def submit(self, endpoint: WebhookEndpoint) -> Future[SendResult]:
        """Start sending a test event to ``endpoint``; raise ``WebhookTestBusy`` if it cannot start now."""
        platform_id = endpoint.platform_id
        with self._lock:
            if platform_id in self._in_flight:
                raise WebhookTestBusy(
                    f"A test event for platform {platform_id} is still being sent; try again when it is done.",
                    retry_after=self.retry_after,
                )
            if len(self._in_flight) >= self.max_running:
                raise WebhookTestBusy(
                    "Too many test events are being sent right now; try again shortly.",
                    retry_after=self.retry_after,
                )
            self._in_flight.add(platform_id)
        try:
            future = self._executor.submit(send_test_event, self.rt, endpoint)
        except BaseException:
            self._release(platform_id)
            raise
        # Released when the send ends, not when the request does: a caller that hangs up does not free the slot.
        future.add_done_callback(lambda _: self._release(platform_id))
        return future

    def _release(self, platform_id: int) -> None:
        with self._lock:
            self._in_flight.discard(platform_id)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
