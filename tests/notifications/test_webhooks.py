"""Webhook delivery: signed events, retries under one id, dead letters, disabled endpoints, target checks."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from standardwebhooks import Webhook

from api.app import create_app
from matcher import Runtime, create_platforms
from tests.conftest import ADMIN_KEY, AUTH, SAMPLE_PLATFORMS, make_settings
from tests.notifications.conftest import (
    HYDROGEN_TECH,
    _hook,
    _pid,
    _worker,
)
from tests.webhook_receiver import Receiver


def test_matching_technology_reaches_inbox_and_signed_webhook(
    client: TestClient, rt: Runtime, receiver: Receiver
) -> None:
    pid = _pid(client, "s-hydrogen")
    hook = _hook(client, pid, receiver.url)
    assert hook["secret"].startswith("whsec_")
    assert "secret" not in client.get(f"/v1/platforms/{pid}/webhooks", headers=AUTH).json()[0]

    tech = client.post("/v1/technologies", json=HYDROGEN_TECH, headers=AUTH).json()
    inbox = client.get(f"/v1/platforms/{pid}/notifications", headers=AUTH).json()["items"]
    assert [n["technology_id"] for n in inbox] == [tech["id"]]
    note = inbox[0]
    assert note["type"] == "match.created" and note["deliveries"][0]["status"] == "pending"

    assert _worker(rt).run_once() == 1
    [request] = receiver.requests
    body = json.loads(Webhook(hook["secret"]).verify(request.body, request.headers) and request.body)
    assert body["type"] == "match.created"
    assert body["data"]["platform_id"] == pid
    assert body["data"]["technology"]["id"] == tech["id"]
    assert body["data"]["score"] == note["score"]
    assert sum(body["data"]["explanation"].values()) == pytest.approx(body["data"]["score"], abs=1e-4)
    assert request.headers["webhook-signature"].startswith("v1,")
    delivered = client.get(f"/v1/platforms/{pid}/notifications", headers=AUTH).json()["items"][0]
    assert delivered["deliveries"][0]["status"] == "succeeded"

    read = client.post(f"/v1/platforms/{pid}/notifications/{note['id']}/read", headers=AUTH).json()
    assert read["read_at"] is not None


def test_retries_keep_one_webhook_id(client: TestClient, rt: Runtime, receiver: Receiver) -> None:
    receiver.statuses = [500, 500]
    pid = _pid(client, "s-hydrogen")
    _hook(client, pid, receiver.url)
    client.post("/v1/technologies", json=HYDROGEN_TECH, headers=AUTH)
    worker = _worker(rt)
    for _ in range(3):
        worker.run_once()
    assert len(receiver.requests) == 3
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    delivery = client.get(f"/v1/platforms/{pid}/notifications", headers=AUTH).json()["items"][0][
        "deliveries"
    ][0]
    assert delivery["status"] == "succeeded" and delivery["attempts"] == 3


def test_dead_letter_and_redeliver(client: TestClient, rt: Runtime, receiver: Receiver) -> None:
    receiver.statuses = [500, 503, 502]
    pid = _pid(client, "s-hydrogen")
    _hook(client, pid, receiver.url)
    client.post("/v1/technologies", json=HYDROGEN_TECH, headers=AUTH)
    worker = _worker(rt)
    for _ in range(5):
        worker.run_once()
    assert len(receiver.requests) == 3  # the first try and the two configured retries
    note = client.get(f"/v1/platforms/{pid}/notifications", headers=AUTH).json()["items"][0]
    assert note["deliveries"][0]["status"] == "dead"
    assert note["deliveries"][0]["last_error"] == "HTTP 502"
    again = client.post(f"/v1/platforms/{pid}/notifications/{note['id']}/redeliver", headers=AUTH)
    assert again.status_code == 202 and again.json()["deliveries"][0]["status"] == "pending"
    worker.run_once()
    assert len(receiver.requests) == 4
    final = client.get(f"/v1/platforms/{pid}/notifications", headers=AUTH).json()["items"][0]
    assert final["deliveries"][0]["status"] == "succeeded"


def test_endpoint_failing_for_a_day_is_disabled_and_platform_told(
    client: TestClient, rt: Runtime, receiver: Receiver
) -> None:
    from datetime import timedelta

    from matcher.dbtypes import utcnow
    from matcher.notifications.models import WebhookEndpoint

    receiver.statuses = [500] * 10
    pid = _pid(client, "s-hydrogen")
    hook = _hook(client, pid, receiver.url)
    with rt.session() as s:
        ep = s.get(WebhookEndpoint, hook["id"])
        ep.failing_since = utcnow() - timedelta(hours=25)
        s.add(ep)
        s.commit()
    client.post("/v1/technologies", json=HYDROGEN_TECH, headers=AUTH)
    _worker(rt).run_once()
    hooks = client.get(f"/v1/platforms/{pid}/webhooks", headers=AUTH).json()
    assert hooks[0]["active"] is False and hooks[0]["disabled_reason"]
    types = [
        n["type"] for n in client.get(f"/v1/platforms/{pid}/notifications", headers=AUTH).json()["items"]
    ]
    assert "endpoint.disabled" in types


def test_two_workers_never_send_one_delivery_twice(
    client: TestClient, rt: Runtime, receiver: Receiver
) -> None:
    import threading

    receiver.delay = 0.05
    pid = _pid(client, "s-hydrogen")
    for _ in range(3):
        _hook(client, pid, receiver.url)
    for i in range(6):
        client.post("/v1/technologies", json=HYDROGEN_TECH | {"title": f"CCM variant {i}"}, headers=AUTH)
    workers = [_worker(rt), _worker(rt)]
    threads = [threading.Thread(target=w.run_once) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = Counter(r.headers["webhook-id"] for r in receiver.requests)
    assert counts and max(counts.values()) == 1
    total = sum(
        len(n["deliveries"])
        for n in client.get(f"/v1/platforms/{pid}/notifications", headers=AUTH).json()["items"]
    )
    assert len(counts) == total


def test_webhook_targets_are_checked(tmp_path: Path) -> None:
    strict = Runtime.open(make_settings(tmp_path / "strict"))
    try:
        create_platforms(strict.db, strict.engine, strict.settings, SAMPLE_PLATFORMS[:1])
        with TestClient(create_app(runtime=strict)) as c:
            pid = c.get("/v1/platforms").json()["items"][0]["id"]
            for url in (
                "http://127.0.0.1:9/hook",
                "http://10.1.2.3/hook",
                "http://169.254.169.254/latest/meta-data",
                "ftp://example.com/x",
                "http://[::1]/hook",
            ):
                r = c.post(f"/v1/platforms/{pid}/webhooks", json={"url": url}, headers=AUTH)
                assert r.status_code == 422, url
                assert r.json()["errors"][0]["field"] == "url"
            assert c.get(f"/v1/platforms/{pid}/webhooks", headers=AUTH).json() == []
    finally:
        strict.close()


def test_link_local_is_refused_even_when_private_is_allowed(client: TestClient) -> None:
    pid = _pid(client, "s-hydrogen")
    r = client.post(f"/v1/platforms/{pid}/webhooks", json={"url": "http://169.254.169.254/x"}, headers=AUTH)
    assert r.status_code == 422 and "link-local" in r.json()["detail"]


def test_platform_keys_reach_only_their_own_platform(client: TestClient, receiver: Receiver) -> None:
    mine, other = _pid(client, "s-hydrogen"), _pid(client, "s-steel")
    assert client.post(f"/v1/platforms/{mine}/keys").status_code == 401
    created = client.post(f"/v1/platforms/{mine}/keys", headers=AUTH)
    assert created.status_code == 201
    key = {"Authorization": f"Bearer {created.json()['key']}"}
    assert created.json()["key"] != ADMIN_KEY

    assert client.patch(f"/v1/platforms/{mine}", json={"capacity": 4}, headers=key).status_code == 200
    assert client.patch(f"/v1/platforms/{mine}", json={"tier": "national"}, headers=key).status_code == 403
    assert client.get(f"/v1/platforms/{mine}/notifications", headers=key).status_code == 200
    assert (
        client.post(f"/v1/platforms/{mine}/webhooks", json={"url": receiver.url}, headers=key).status_code
        == 201
    )
    # Another platform's things do not exist for this key.
    assert client.patch(f"/v1/platforms/{other}", json={"capacity": 4}, headers=key).status_code == 404
    assert client.get(f"/v1/platforms/{other}/notifications", headers=key).status_code == 404
    assert client.get(f"/v1/platforms/{other}/webhooks", headers=key).status_code == 404
    # Admin routes are forbidden.
    assert client.post("/v1/platforms", json={}, headers=key).status_code in (403, 422)
    assert client.delete(f"/v1/platforms/{mine}", headers=key).status_code == 403
    assert client.post(f"/v1/platforms/{mine}/keys", headers=key).status_code == 403
    assert client.post("/v1/technologies", json=HYDROGEN_TECH, headers=key).status_code == 403

    listed = client.get(f"/v1/platforms/{mine}/keys", headers=AUTH).json()
    assert listed[0]["prefix"] and listed[0]["last_used_at"] is not None and "key" not in listed[0]
    assert client.delete(f"/v1/platforms/{mine}/keys/{listed[0]['id']}", headers=AUTH).status_code == 204
    assert client.get(f"/v1/platforms/{mine}/notifications", headers=key).status_code == 401


def test_test_event_is_signed_and_reported(client: TestClient, receiver: Receiver) -> None:
    pid = _pid(client, "s-hydrogen")
    hook = _hook(client, pid, receiver.url)
    r = client.post(f"/v1/platforms/{pid}/webhooks/{hook['id']}/test", headers=AUTH).json()
    assert r["ok"] is True and r["status_code"] == 200
    Webhook(hook["secret"]).verify(receiver.requests[0].body, receiver.requests[0].headers)
    rotated = client.post(f"/v1/platforms/{pid}/webhooks/{hook['id']}/rotate-secret", headers=AUTH).json()
    assert rotated["secret"] != hook["secret"]
    client.post(f"/v1/platforms/{pid}/webhooks/{hook['id']}/test", headers=AUTH)
    Webhook(rotated["secret"]).verify(receiver.requests[1].body, receiver.requests[1].headers)
    assert client.delete(f"/v1/platforms/{pid}/webhooks/{hook['id']}", headers=AUTH).status_code == 204
