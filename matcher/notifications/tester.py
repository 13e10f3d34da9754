"""Test events on demand: sent at once on a few threads of their own, one at a time per platform."""

from __future__ import annotations

import math
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from matcher.errors import PilotMatchError
from matcher.notifications.models import WebhookEndpoint
from matcher.notifications.sending import SendResult, send_test_event
from matcher.settings import Settings


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

    def __init__(self, settings: Settings, max_running: int = 4) -> None:
        self.settings = settings
        self.max_running = max_running
        self._executor = ThreadPoolExecutor(
            max_workers=max_running, thread_name_prefix="pilotmatch-webhook-test"
        )
        self._in_flight: set[int] = set()
        self._lock = threading.Lock()

    @property
    def retry_after(self) -> int:
        """Seconds after which a refused caller may try again: one send's time-out."""
        return max(1, math.ceil(self.settings.webhook_timeout_seconds))

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
            future = self._executor.submit(send_test_event, self.settings, endpoint)
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
