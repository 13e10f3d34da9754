"""Fixtures and helpers the notification tests share: a runtime on a fresh database, its client, a local webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from matcher import DeliveryWorker, Runtime
from tests.conftest import AUTH, notifying_runtime
from tests.mailbox import smtp  # noqa: F401  (a fixture for this package's tests)
from tests.webhook_receiver import Receiver

HYDROGEN_TECH = {
    "title": "Iridium-lean catalyst-coated membrane",
    "summary": "质子交换膜电解水制氢的低铱催化剂涂层膜，需要在兆瓦级PEM电解槽电堆上做耐久性验证和膜电极涂布放大。",
    "trl": 5,
}


def _worker(rt: Runtime) -> DeliveryWorker:
    """A delivery worker on this runtime's database, engine and settings, as ``pilotmatch worker`` runs one."""
    return DeliveryWorker(rt.db, rt.engine, rt.settings, rt.follower)


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = notifying_runtime(tmp_path, webhook_lease_seconds=2)
    yield runtime
    runtime.close()


@pytest.fixture
def client(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=rt)) as c:
        yield c


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def _pid(client: TestClient, external_id: str) -> int:
    items = client.get("/v1/platforms", params={"limit": 200}).json()["items"]
    return next(p["id"] for p in items if p["external_id"] == external_id)


def _hook(client: TestClient, pid: int, url: str) -> dict:
    r = client.post(f"/v1/platforms/{pid}/webhooks", json={"url": url}, headers=AUTH)
    assert r.status_code == 201, r.text
    return r.json()


def _committed_unindexed_and_left_flagged(rt: Runtime, row: object) -> object:
    """Commit a flagged row as a service write does, but without putting it in the engine; a worker pass must
    leave its ``needs_matching`` flag set."""
    with rt.session() as s:
        s.add(row)
        s.commit()
        s.refresh(row)
    _worker(rt).run_once()
    with rt.session() as s:
        assert s.get(type(row), row.id).needs_matching  # type: ignore[attr-defined]
    return row


#: What a key check must never load: the models' libraries, the runtime that opens them, the match engine.
