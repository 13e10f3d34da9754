"""Notifications end to end: outbox, inbox, signed webhooks to a real receiver, retries, dead letters, keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from standardwebhooks import Webhook

from api.app import create_app
from matcher.notifications.delivery import DeliveryWorker
from matcher.notifications.outbox import notify_for_technology
from matcher.platforms.service import create_platforms
from matcher.runtime import Runtime
from tests.conftest import ADMIN_KEY, AUTH, SAMPLE_PLATFORMS, make_settings
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
    runtime = Runtime.open(
        make_settings(
            tmp_path,
            webhook_allow_private=True,
            webhook_retry_delays="0,0",
            notify_min_score=0.0,
            notify_top_k=3,
            webhook_lease_seconds=2,
        )
    )
    create_platforms(runtime, SAMPLE_PLATFORMS)
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


def test_one_notification_per_pair_ever(client: TestClient, rt: Runtime) -> None:
    pid = _pid(client, "s-hydrogen")
    tech = client.post("/v1/technologies", json=HYDROGEN_TECH, headers=AUTH).json()
    client.patch(
        f"/v1/technologies/{tech['id']}",
        json={"summary": HYDROGEN_TECH["summary"] + " 同时需要碱性电解槽对比测试。"},
        headers=AUTH,
    )
    client.patch(
        f"/v1/platforms/{pid}",
        json={"capabilities": "PEM电解槽电堆测试与膜电极放大，兆瓦级系统验证。"},
        headers=AUTH,
    )
    _worker(rt).run_once()
    inbox = client.get(f"/v1/platforms/{pid}/notifications", headers=AUTH).json()["items"]
    assert [n["technology_id"] for n in inbox] == [tech["id"]]


def test_bulk_created_platforms_are_matched_by_the_worker(client: TestClient, rt: Runtime) -> None:
    """A bulk write answers once its rows are stored and indexed; the worker matches them and notifies in one
    batch (a 1,000-platform import no longer holds the request for every platform's reverse match)."""
    tech = client.post("/v1/technologies", json=HYDROGEN_TECH, headers=AUTH).json()
    item = {
        "tier": "provincial",
        "area": "emerging_future",
        "capabilities": "PEM电解槽电堆耐久性测试、催化剂涂层膜放大制备与兆瓦级制氢系统验证。",
    }
    items = [item | {"name": f"PEM电解槽验证中心 {i}"} for i in range(3)]
    created = client.post("/v1/platforms/bulk", json={"items": items}, headers=AUTH).json()
    ids = [p["id"] for p in created]
    for pid in ids:
        assert client.get(f"/v1/platforms/{pid}/notifications", headers=AUTH).json()["items"] == []
    assert client.get("/readyz").json()["unmatched_rows"] == len(ids)
    _worker(rt).run_once()
    for pid in ids:
        inbox = client.get(f"/v1/platforms/{pid}/notifications", headers=AUTH).json()["items"]
        assert tech["id"] in [n["technology_id"] for n in inbox]
    assert client.get("/readyz").json()["unmatched_rows"] == 0


def test_new_platform_hears_of_open_technologies(client: TestClient) -> None:
    tech = client.post("/v1/technologies", json=HYDROGEN_TECH, headers=AUTH).json()
    created = client.post(
        "/v1/platforms",
        json={
            "name": "兆瓦级PEM电解槽耐久性验证中心",
            "tier": "provincial",
            "area": "emerging_future",
            "capabilities": "PEM电解槽电堆耐久性测试、催化剂涂层膜放大制备与兆瓦级制氢系统验证。",
        },
        headers=AUTH,
    ).json()
    inbox = client.get(f"/v1/platforms/{created['id']}/notifications", headers=AUTH).json()["items"]
    assert tech["id"] in [n["technology_id"] for n in inbox]


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


def test_stored_but_unmatched_rows_are_caught_up_after_a_crash(
    client: TestClient, rt: Runtime, receiver: Receiver
) -> None:
    """A technology committed just before the process died (flag still set, no notification yet) is matched and
    delivered by the next worker."""
    from matcher.technologies.models import Technology

    pid = _pid(client, "s-hydrogen")
    _hook(client, pid, receiver.url)
    tech = client.post("/v1/technologies", json=HYDROGEN_TECH, headers=AUTH).json()
    with rt.session() as s:  # undo the outbox write, as if the process had died right after the commit
        from sqlmodel import delete

        from matcher.notifications.models import Notification

        s.exec(delete(Notification))
        row = s.get(Technology, tech["id"])
        row.needs_matching = True
        s.add(row)
        s.commit()
    assert client.get(f"/v1/platforms/{pid}/notifications", headers=AUTH).json()["items"] == []
    _worker(rt).run_once()
    assert len(receiver.requests) == 1
    assert (
        client.get(f"/v1/platforms/{pid}/notifications", headers=AUTH).json()["items"][0]["technology_id"]
        == tech["id"]
    )


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


def test_a_row_committed_before_it_is_indexed_is_matched_later_not_dropped(
    client: TestClient, rt: Runtime
) -> None:
    """The worker can see a technology's commit before the writer (or this process's follower) has indexed it. It
    must leave the flag set then; clearing it would lose the notification for good (a flaky CI run caught this)."""
    from matcher.matching.documents import with_id
    from matcher.technologies.models import Technology

    pid = _pid(client, "s-hydrogen")
    row = _committed_unindexed_and_left_flagged(rt, Technology(**HYDROGEN_TECH, needs_matching=True))
    assert client.get(f"/v1/platforms/{pid}/notifications", headers=AUTH).json()["items"] == []

    doc = with_id(rt.engine.technology_docs([row])[0], row.id)
    rt.engine.apply_technologies([doc], rt.engine.embed_technology_docs([doc]))
    _worker(rt).run_once()
    with rt.session() as s:
        assert not s.get(Technology, row.id).needs_matching
    inbox = client.get(f"/v1/platforms/{pid}/notifications", headers=AUTH).json()["items"]
    assert [n["technology_id"] for n in inbox] == [row.id]


def test_a_platform_committed_before_it_is_indexed_hears_of_technologies_later(
    client: TestClient, rt: Runtime
) -> None:
    """The same for the platform side: an active platform not yet indexed keeps its flag until it is."""
    from matcher.matching.documents import with_id
    from matcher.platforms.models import Platform

    tech = client.post("/v1/technologies", json=HYDROGEN_TECH, headers=AUTH).json()
    row = Platform(
        name="PEM电解槽耐久性测试中心",
        tier="provincial",
        area="emerging_future",
        capabilities="PEM电解槽电堆耐久性测试、低铱膜电极验证。",
        needs_matching=True,
    )
    row = _committed_unindexed_and_left_flagged(rt, row)

    docs, vectors = rt.engine.prepare_platforms([row])
    rt.engine.apply_platforms([with_id(docs[0], row.id)], vectors)
    _worker(rt).run_once()
    inbox = client.get(f"/v1/platforms/{row.id}/notifications", headers=AUTH).json()["items"]
    assert [n["technology_id"] for n in inbox] == [tech["id"]]


def test_webhook_targets_are_checked(tmp_path: Path) -> None:
    strict = Runtime.open(make_settings(tmp_path / "strict"))
    try:
        create_platforms(strict, SAMPLE_PLATFORMS[:1])
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


class _Mailbox:
    def __init__(self, refuse: int = 0) -> None:
        self.messages: list = []
        self.refuse = refuse

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        if self.refuse > 0:
            self.refuse -= 1
            return "451 try again later"
        from email import message_from_bytes, policy

        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[_Mailbox, int]]:
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    box = _Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def test_email_digest_batches_per_platform_and_retries(
    tmp_path: Path, smtp: tuple[_Mailbox, int], receiver: Receiver
) -> None:
    from datetime import timedelta

    from matcher.dbtypes import utcnow
    from matcher.platforms.models import Platform

    box, port = smtp
    runtime = Runtime.open(
        make_settings(
            tmp_path,
            webhook_allow_private=True,
            webhook_retry_delays="0,0",
            notify_min_score=0.0,
            notify_top_k=5,
            smtp_url=f"smtp://127.0.0.1:{port}",
            email_batch_minutes=15,
        )
    )
    try:
        create_platforms(runtime, [SAMPLE_PLATFORMS[0].model_copy(update={"contact": "ops@h2.example.cn"})])
        with TestClient(create_app(runtime=runtime)) as c:
            pid = c.get("/v1/platforms").json()["items"][0]["id"]
            _hook(c, pid, receiver.url)
            box.refuse = 1  # the first send fails; webhooks must not wait for e-mail
            for i in range(2):
                c.post("/v1/technologies", json=HYDROGEN_TECH | {"title": f"CCM {i}"}, headers=AUTH)
            worker = _worker(runtime)
            worker.run_once()
            assert len(receiver.requests) == 2 and box.messages == []
            worker.run_once()  # the retry (delay 0) goes through: one digest for both notifications
            assert len(box.messages) == 1
            msg = box.messages[0]
            assert msg["To"] == "ops@h2.example.cn"
            assert "2 项新技术" in msg["Subject"] and "2 new technologies" in msg["Subject"]
            text = msg.get_body(preferencelist=("plain",)).get_content()
            html_part = msg.get_body(preferencelist=("html",)).get_content()
            assert "CCM 0" in text and "CCM 1" in text and "/v1/technologies/" in text
            assert "<a href=" in html_part

            c.post("/v1/technologies", json=HYDROGEN_TECH | {"title": "CCM 2"}, headers=AUTH)
            worker.run_once()
            assert len(box.messages) == 1  # inside the batch window: waits
            with runtime.session() as s:
                p = s.get(Platform, pid)
                p.last_email_at = utcnow() - timedelta(minutes=16)
                s.add(p)
                s.commit()
            worker.run_once()
            assert len(box.messages) == 2
            assert "CCM 2" in box.messages[1].get_body(preferencelist=("plain",)).get_content()
    finally:
        runtime.close()


def test_inbox_pages_newest_first(client: TestClient) -> None:
    pid = _pid(client, "s-hydrogen")
    ids = [
        client.post("/v1/technologies", json=HYDROGEN_TECH | {"title": f"CCM {i}"}, headers=AUTH).json()["id"]
        for i in range(3)
    ]
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get(f"/v1/platforms/{pid}/notifications", params=params, headers=AUTH).json()
        seen += [n["technology_id"] for n in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(ids, reverse=True)


def test_concurrent_matching_of_one_row_stores_once_and_never_fails(client: TestClient, rt: Runtime) -> None:
    """An API thread and a worker may match the same new technology at once; one of them records it."""
    import threading

    from matcher.technologies.models import Technology

    tech = client.post("/v1/technologies", json=HYDROGEN_TECH, headers=AUTH).json()
    from sqlmodel import delete, select

    from matcher.notifications.models import Notification

    with rt.session() as s:
        s.exec(delete(Notification))
        row = s.get(Technology, tech["id"])
        row.needs_matching = True
        s.add(row)
        s.commit()
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(notify_for_technology(rt.db, rt.engine, rt.settings, tech["id"]))
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results)[:-1] == [0, 0, 0] and results and max(results) > 0  # one thread recorded them all
    pid = _pid(client, "s-hydrogen")
    assert len(client.get(f"/v1/platforms/{pid}/notifications", headers=AUTH).json()["items"]) == 1
    with rt.session() as s:
        assert len(s.exec(select(Notification)).all()) == max(results)


#: What a key check must never load: the models' libraries, the runtime that opens them, the match engine.
HEAVY_MODULES = ("torch", "faiss", "sentence_transformers", "matcher.runtime", "matcher.matching.engine")

KEY_CHECK = """
import json, sys
from sqlmodel import Session
from matcher.accounts.models import ApiKey
from matcher.accounts.service import authenticate, create_admin_key, touch
from matcher.db import create_db_engine, migrate
from matcher.settings import Settings

url = sys.argv[1]
db = create_db_engine(url)
migrate(db)
key = create_admin_key(db)
principal = authenticate(db, Settings(database_url=url, admin_key=None), key)
touch(db, principal)
with Session(db) as s:
    used = s.get(ApiKey, principal.key_id).last_used_at is not None
print(json.dumps({"role": principal.role, "used": used, "loaded": [m for m in sys.argv[2:] if m in sys.modules]}))
"""


def test_checking_an_api_key_loads_no_model(tmp_path: Path) -> None:
    """A fresh process that checks a key (and records its use) imports no model library, runtime or engine."""
    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("PILOTMATCH_")} | {"PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", KEY_CHECK, f"sqlite:///{tmp_path}/keys.db", *HEAVY_MODULES],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"role": "admin", "used": True, "loaded": []}
