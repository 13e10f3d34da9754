"""A runtime on a fresh database with the three sample platforms, notifying every fit, and helpers for the
loop: a submission, a platform key, an answer."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from matcher import Runtime
from tests.conftest import AUTH, notifying_runtime
from tests.mailbox import smtp  # noqa: F401  (a fixture for this package's tests)
from tests.webhook_receiver import Receiver

HYDROGEN_SUBMISSION = {
    "title": "Iridium-lean catalyst-coated membrane",
    "summary": "质子交换膜电解水制氢的低铱催化剂涂层膜，需要在兆瓦级PEM电解槽电堆上做耐久性验证和膜电极涂布放大。",
    "trl": 5,
    "contact": "lab@example.edu.cn",
}


@pytest.fixture
def loop_rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = notifying_runtime(tmp_path)
    yield runtime
    runtime.close()


@pytest.fixture
def api(loop_rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=loop_rt)) as c:
        yield c


@dataclass
class Pair:
    """A submitted technology and the platform it fits best, with that platform's key."""

    token: str
    technology_id: int
    platform_id: int
    key: dict[str, str]
    other_platform_id: int
    other_key: dict[str, str]

    @property
    def response_url(self) -> str:
        return f"/v1/platforms/{self.platform_id}/technologies/{self.technology_id}/response"


def submit_pair(api: TestClient, submission: dict | None = None) -> Pair:
    r = api.post("/v1/submissions", json=submission or HYDROGEN_SUBMISSION)
    assert r.status_code == 201, r.text
    body = r.json()
    best, other = body["matches"][0]["platform_id"], body["matches"][-1]["platform_id"]
    assert best != other

    def key(pid: int) -> dict[str, str]:
        made = api.post(f"/v1/platforms/{pid}/keys", headers=AUTH)
        assert made.status_code == 201, made.text
        return {"Authorization": f"Bearer {made.json()['key']}"}

    return Pair(body["token"], body["technology"]["id"], best, key(best), other, key(other))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()
