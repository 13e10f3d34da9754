"""Fixtures of the platform tests: a local SMTP receiver and a local webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.mailbox import smtp  # noqa: F401  (a fixture for this package's tests)
from tests.webhook_receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()
