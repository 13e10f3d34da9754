"""Admission of match work: per-client token buckets, and a bounded two-lane queue in front of matching.

A match is CPU work that takes 15 ms for a few words and about half a second for a 20,000-character text, on
cores shared with every other request. Without admission, twenty long texts sent at once kept a server busy for
20 s and a one-word match sent meanwhile waited 15 s. Two mechanisms keep that from happening:

* ``RateLimiter``: each client (an address, or an API key) has a token bucket of ``per_minute`` tokens that
  refills continuously; a request takes one token or is refused with the seconds until one is there.
* ``MatchGate``: at most ``concurrency`` matches run at once and at most ``queue`` more wait; a request that finds
  the queue full is refused at once (the caller answers 503 with ``Retry-After``) instead of waiting without end.
  Long texts (``cost`` above ``long_cost``) may hold at most ``concurrency - 1`` of the slots (one when there is
  only one) and at most half the queue, and a free slot goes to a waiting short text before a long one, so a
  short query waits for at most the matches already running, never behind a queue of long ones. No request waits
  longer than ``max_wait`` (15 s): one not served by then is refused, and one whose lane already has more work
  ahead than that is refused at once, however short the queue.

Neither knows about HTTP; ``api.admission`` maps their refusals to 429 and 503. Both are per process: with
``pilotmatch serve --workers N`` each process keeps its own buckets and its own slots.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import Counter, Gauge
from pyrate_limiter import Duration, Rate, TokenBucket

from matcher.errors import PilotMatchError

#: A match whose text is longer than this (in bytes of the request that carries it) goes to the long lane.
#: A 2,000-byte English text matches in about 60 ms, a third as many Chinese characters in about 30 ms.
LONG_COST = 2_000
#: The longest a match waits in the queue. On a slow or contended machine a queue that is not full by count can
#: still mean a minute's wait, past the time-out of most proxies and clients: a waiter not served by then is
#: refused (503), and a match whose lane already has more work ahead than this (at its recent pace) is refused
#: at once.
MAX_WAIT_SECONDS = 15.0

REFUSED = Counter(
    "pilotmatch_match_refused_total",
    "Match requests refused before any work: rate_limited (429) or overloaded (503).",
    ["reason"],
)
IN_FLIGHT = Gauge(
    "pilotmatch_match_in_flight", "Matches running now, by lane.", ["lane"], multiprocess_mode="livesum"
)
QUEUED = Gauge(
    "pilotmatch_match_queued",
    "Matches waiting for a slot, by lane.",
    ["lane"],
    multiprocess_mode="livesum",
)


class RateLimited(PilotMatchError):
    """The client has spent its tokens; one is back after ``retry_after`` seconds."""

    title = "Too many requests"

    def __init__(self, detail: str, retry_after: float) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Overloaded(PilotMatchError):
    """The match queue is full; ``retry_after`` is an estimate of the seconds until it has room."""

    title = "Overloaded"

    def __init__(self, detail: str, retry_after: float) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class RateLimiter:
    """A token bucket per client key: ``per_minute`` tokens, refilled evenly over the minute; a burst of at most
    ``per_minute`` requests. ``per_minute`` of 0 admits everything.

    The algorithm is pyrate-limiter's ``TokenBucket`` (exact integer GCRA: one number per client, and the wait in
    closed form); this class keeps one state per key and forgets keys whose bucket is full again, which is the
    state a new key starts in, so memory holds only the clients active in the last minute.
    """

    #: How often full buckets are forgotten.
    SWEEP_SECONDS = 60.0

    def __init__(self, per_minute: int, what: str = "matches") -> None:
        self.per_minute = per_minute
        self.what = what
        self._rates = [Rate(per_minute, Duration.MINUTE)] if per_minute > 0 else []
        self._algorithm = TokenBucket()
        self._states: dict[str, tuple[float, ...]] = {}
        self._lock = threading.Lock()
        self._next_sweep = time.monotonic() + self.SWEEP_SECONDS

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def take(self, key: str) -> None:
        """Spend one of ``key``'s tokens, or raise ``RateLimited`` (spending nothing) when there is none."""
        if not self._rates:
            return
        now_ms = time.monotonic_ns() // 1_000_000
        with self._lock:
            state = self._states.get(key) or self._algorithm.initial(self._rates)
            new_state, decision = self._algorithm.step(self._rates, state, now_ms, 1)
            if decision.allowed:
                self._states[key] = new_state
            if now_ms / 1000 >= self._next_sweep:
                self._sweep(now_ms)
        if not decision.allowed:
            REFUSED.labels("rate_limited").inc()
            wait = (decision.retry_after_ms or 1000) / 1000
            raise RateLimited(
                f"At most {self.per_minute} {self.what} a minute per client; try again in {math.ceil(wait)} s.",
                wait,
            )

    def __len__(self) -> int:
        """Clients whose bucket is not full (those seen within about a minute)."""
        return len(self._states)

    def _sweep(self, now_ms: int) -> None:
        # A state is the moment (in microseconds) the bucket is full again; past that it equals a new key's.
        now_us = now_ms * 1000
        self._states = {k: s for k, s in self._states.items() if s[0] > now_us}
        self._next_sweep = now_ms / 1000 + self.SWEEP_SECONDS


SHORT, LONG = "short", "long"


@dataclass(eq=False)
class _Waiter:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]
    granted: bool = False


@dataclass
class GateStats:
    """A snapshot of the gate for ``/readyz``."""

    in_flight: int
    queued: int
    concurrency: int
    queue: int
    long_in_flight: int
    long_queued: int

    @property
    def status(self) -> str:
        """``overloaded`` when a new request would be refused, ``busy`` when one would wait, else ``ok``."""
        if self.queued >= self.queue and self.in_flight >= self.concurrency:
            return "overloaded"
        return "busy" if self.in_flight >= self.concurrency else "ok"


@dataclass(eq=False)
class MatchTicket:
    """A slot held for one match; ``release`` (or leaving the ``with`` block) gives it back, once."""

    gate: MatchGate
    lane: str
    started: float = 0.0
    _released: bool = False
    #: Whether its duration feeds the lane's pace (see ``unmeasured``).
    _measured: bool = True

    def __post_init__(self) -> None:
        self.started = self.gate.clock()

    def release(self) -> None:
        if not self._released:
            self._released = True
            self.gate._release(self.lane, self.gate.clock() - self.started, self._measured)

    def unmeasured(self) -> MatchTicket:
        """Leave this slot's duration out of the lane's pace: a run of many matches in one slot (a programme's
        assignment) would otherwise make every waiting match look as long as the whole run."""
        self._measured = False
        return self

    def __enter__(self) -> MatchTicket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class MatchGate:
    """Bounded concurrency and a bounded queue for match work, with a lane for long texts.

    ``admit`` is a coroutine: a request that waits holds no thread, only a future on its event loop. The
    bookkeeping is under a plain lock, so a ticket may be released from any thread (a match runs in the thread
    pool) and a gate may be shared by event loops.
    """

    def __init__(
        self,
        concurrency: int,
        queue: int,
        long_cost: int = LONG_COST,
        max_wait: float = MAX_WAIT_SECONDS,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.concurrency = concurrency
        #: What a match's duration is measured with (seconds).
        self.clock = clock
        self.queue = queue
        self.long_cost = long_cost
        self.max_wait = max_wait
        self.long_slots = max(1, concurrency - 1)
        self.long_queue = math.ceil(queue / 2)
        self._running = {SHORT: 0, LONG: 0}
        self._waiting: dict[str, deque[_Waiter]] = {SHORT: deque(), LONG: deque()}
        self._lock = threading.Lock()
        #: Seconds one match takes in each lane, smoothed; Retry-After is worked out from them.
        self._seconds_per_match = {SHORT: 0.05, LONG: 0.5}

    def lane_of(self, cost: int) -> str:
        return LONG if cost > self.long_cost else SHORT

    async def admit(self, cost: int) -> MatchTicket:
        """A slot for a match of this ``cost`` (bytes of text), at once or after waiting in the queue. Raises
        ``Overloaded`` at once when the queue (or the long lane's half of it) is full."""
        lane = self.lane_of(cost)
        with self._lock:
            if self._may_start(lane):
                self._start(lane)
                return MatchTicket(self, lane)
            waiting = len(self._waiting[SHORT]) + len(self._waiting[LONG])
            if (
                waiting >= self.queue
                or (lane == LONG and len(self._waiting[LONG]) >= self.long_queue)
                or self._wait_locked(lane) > self.max_wait
            ):
                retry_after = self._retry_after_locked(lane)
                REFUSED.labels("overloaded").inc()
                raise Overloaded(
                    f"The service is matching at capacity ({self.concurrency} running, {waiting} waiting); "
                    f"try again in {math.ceil(retry_after)} s.",
                    retry_after,
                )
            loop = asyncio.get_running_loop()
            waiter = _Waiter(loop, loop.create_future())
            self._waiting[lane].append(waiter)
            QUEUED.labels(lane).inc()
        try:
            await asyncio.wait({waiter.future}, timeout=self.max_wait)
        except BaseException:  # cancelled while waiting
            with self._lock:
                granted = waiter.granted
                if not granted:
                    self._waiting[lane].remove(waiter)
                    QUEUED.labels(lane).dec()
            if granted:
                self._release(lane, 0.0, measured=False)  # granted as it was cancelled: hand the slot on
            raise
        with self._lock:
            if not waiter.granted:  # not served within max_wait
                self._waiting[lane].remove(waiter)
                QUEUED.labels(lane).dec()
                REFUSED.labels("overloaded").inc()
                retry_after = self._retry_after_locked(lane)
                raise Overloaded(
                    f"This match waited {self.max_wait:.0f} s for a slot without getting one; try again in "
                    f"{math.ceil(retry_after)} s.",
                    retry_after,
                )
        return MatchTicket(self, lane)

    def stats(self) -> GateStats:
        with self._lock:
            return GateStats(
                in_flight=self._running[SHORT] + self._running[LONG],
                queued=len(self._waiting[SHORT]) + len(self._waiting[LONG]),
                concurrency=self.concurrency,
                queue=self.queue,
                long_in_flight=self._running[LONG],
                long_queued=len(self._waiting[LONG]),
            )

    def _may_start(self, lane: str) -> bool:
        total = self._running[SHORT] + self._running[LONG]
        if total >= self.concurrency:
            return False
        if lane == LONG:
            # Short texts that already wait go first; a long one takes a slot only when none does.
            return not self._waiting[SHORT] and self._running[LONG] < self.long_slots
        return True

    def _start(self, lane: str) -> None:
        self._running[lane] += 1
        IN_FLIGHT.labels(lane).inc()

    def _release(self, lane: str, seconds: float, measured: bool = True) -> None:
        with self._lock:
            self._running[lane] -= 1
            IN_FLIGHT.labels(lane).dec()
            if measured:
                self._seconds_per_match[lane] += 0.2 * (seconds - self._seconds_per_match[lane])
            self._hand_on_locked()

    def _hand_on_locked(self) -> None:
        """Give free slots to waiters: short texts first, long ones while the long lane has room."""
        while self._running[SHORT] + self._running[LONG] < self.concurrency:
            if self._waiting[SHORT]:
                lane = SHORT
            elif self._waiting[LONG] and self._running[LONG] < self.long_slots:
                lane = LONG
            else:
                return
            waiter = self._waiting[lane].popleft()
            QUEUED.labels(lane).dec()
            waiter.granted = True
            self._start(lane)
            waiter.loop.call_soon_threadsafe(_wake, waiter.future)

    def _wait_locked(self, lane: str) -> float:
        """Seconds until the lane's work ahead (running and waiting) is done, at its recent pace."""
        ahead = self._running[lane] + len(self._waiting[lane])
        slots = self.long_slots if lane == LONG else self.concurrency
        return ahead * self._seconds_per_match[lane] / slots

    def _retry_after_locked(self, lane: str) -> float:
        return max(1.0, min(60.0, self._wait_locked(lane)))


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
