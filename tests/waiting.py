"""Bounded waits: poll a condition until it holds or a deadline passes, then fail saying what did not happen.

Tests wait for things another thread or process does (a server answering, a follower applying a write, a
delivery arriving). A fixed sleep is either too short on a busy machine or too long everywhere; these return as
soon as the condition holds, and a missed deadline is an assertion error naming what was awaited.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T],
    seconds: float,
    what: str | Callable[[], str],
    *,
    interval: float = 0.05,
) -> T:
    """Call ``condition`` until it returns a truthy value, and return that value. After ``seconds`` raise
    ``AssertionError`` naming ``what`` was awaited (a phrase, or a function that returns one when the wait
    fails, e.g. to add a server's log)."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(_missed(seconds, what))
        time.sleep(interval)


async def wait_until_async(
    condition: Callable[[], T], seconds: float, what: str | Callable[[], str], *, interval: float = 0.05
) -> T:
    """``wait_until`` inside an event loop: sleeps with ``asyncio.sleep`` so the loop's other tasks run."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(_missed(seconds, what))
        await asyncio.sleep(interval)


def _missed(seconds: float, what: str | Callable[[], str]) -> str:
    return f"waited {seconds:g} s for {what if isinstance(what, str) else what()}; it did not happen"
