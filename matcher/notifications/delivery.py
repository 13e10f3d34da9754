"""The delivery worker: sends due webhook deliveries with retries, and keeps the outbox moving.

Each delivery is claimed with one conditional UPDATE (lease owner and expiry) before it is sent, so several
workers, threads or processes never send one delivery at the same time, and a killed worker's claim lapses
after ``webhook_lease_seconds`` and is picked up again. Every attempt is recorded with a bounded copy of the answer.
Any non-2xx answer, time-out or connection error is retried after the configured delays (with jitter); after
the last one the delivery is dead-lettered (visible in the inbox, re-sendable). An endpoint that has failed for
``webhook_disable_after_hours`` without a success is disabled and the platform is told in its inbox.

Sending itself (signing, pinned connections, bounded answers) is ``sending.sign_and_send``. Whatever goes wrong
with one delivery (a malformed stored URL, a broken secret, a failure while recording) is recorded as a failed
attempt of that delivery alone; the worker goes on with the others, and e-mail digests are sent in every pass.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
import uuid
from datetime import datetime, timedelta

from sqlalchemy import Engine, or_, update
from sqlmodel import Session, select

from matcher.audit.service import SYSTEM, record
from matcher.dbtypes import utcnow
from matcher.engagements.mail import send_researcher_emails
from matcher.engagements.reminders import send_reminders
from matcher.matching.engine import MatchEngine
from matcher.notifications.email import send_digests
from matcher.notifications.models import Notification, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from matcher.notifications.outbox import ENDPOINT_DISABLED, match_pending, queue_depth
from matcher.notifications.sending import STORED_ERROR_CHARS, SendResult, sign_and_send
from matcher.notifications.transport import delivery_client
from matcher.observability import DELIVERIES
from matcher.platforms.freshness import sweep_profiles
from matcher.settings import Settings
from matcher.sync import ChangeFollower, Clock

log = logging.getLogger("pilotmatch.delivery")

STORED_RESPONSE_CHARS = 2000


def _storable(text: str | None, limit: int) -> str | None:
    """Text as the database can keep it: bounded, and without NUL (PostgreSQL refuses it in text columns)."""
    return text.replace("\x00", "\ufffd")[:limit] if text else None


class DeliveryWorker:
    """Claims and sends due deliveries; ``run`` loops until stopped, also catching up on unmatched rows, storing
    due response reminders, sweeping profiles due for confirmation or a stale mark (``platforms.freshness``) and
    sending e-mail (platforms' digests, researchers' introductions).

    It matches rows still flagged ``needs_matching`` with ``engine``, and prunes the change log of ``follower``
    (when given) on every pass.
    """

    def __init__(
        self,
        db: Engine,
        engine: MatchEngine,
        settings: Settings,
        follower: ChangeFollower | None = None,
        owner: str | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.db = db
        self.engine = engine
        self.settings = settings
        self.follower = follower
        #: What "now" is for reminders and the profile sweep (a test passes a clock days ahead).
        self.clock = clock
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stop_event = threading.Event()
        self.lease_seconds = settings.webhook_lease_seconds
        # One client per worker: connections to a receiver are reused across deliveries (each was opened to an
        # address checked when it was opened).
        self.client = delivery_client(
            settings.webhook_timeout_seconds, allow_private=settings.webhook_allow_private
        )

    def _session(self) -> Session:
        return Session(self.db, expire_on_commit=False)

    # ---- claiming ------------------------------------------------------------------------------------------
    def claim(self, limit: int = 50) -> list[int]:
        now = utcnow()
        with self._session() as s:
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
        with self._session() as s:
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
        with self._session() as s:
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
        delays = self.settings.retry_delays
        if final or attempts > len(delays):
            return "dead", None
        return "pending", now + timedelta(seconds=delays[attempts - 1] * random.uniform(0.8, 1.2))

    def _record_failure(self, delivery_id: int, error: str) -> None:
        """Record a failed attempt on the delivery row alone (no endpoint bookkeeping), for when the full record
        could not be made; if even that fails, the lease lapses and the delivery is tried again later."""
        try:
            now = utcnow()
            with self._session() as s:
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
        with self._session() as s:
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
                limit = timedelta(hours=self.settings.webhook_disable_after_hours)
                if ep.active and now - ep.failing_since >= limit:
                    ep.active = False
                    ep.disabled_reason = f"failing since {ep.failing_since.isoformat(timespec='seconds')}"
                    record(
                        s,
                        ep.platform_id,
                        "webhook",
                        "disabled",
                        SYSTEM,
                        {"active": [True, False], "disabled_reason": [None, ep.disabled_reason]},
                        ep.id,
                    )
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
        steps = (
            (lambda: match_pending(self.db, self.engine, self.settings), "matching"),
            (lambda: send_reminders(self.db, self.settings, self.clock()), "reminders"),
            (lambda: sweep_profiles(self.db, self.engine, self.settings, self.clock()), "profiles"),
            (lambda: queue_depth(self.db), "queue_depth"),
            (self._prune, "prune"),
        )
        for step, name in steps:
            try:
                step()
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
        for send, name in ((send_digests, "digests"), (send_researcher_emails, "researcher_emails")):
            try:
                send(self.db, self.settings)
            except Exception:
                log.exception("event=email_error step=%s", name)
        return sent

    def _prune(self) -> None:
        if self.follower is not None:
            self.follower.prune()

    def run(self) -> None:
        log.info("event=worker_started owner=%s", self.owner)
        try:
            while not self.stop_event.is_set():
                try:
                    self.run_once()
                except Exception:  # a bad row must not stop deliveries for everyone
                    log.exception("event=worker_error")
                self.stop_event.wait(self.settings.worker_poll_seconds)
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
