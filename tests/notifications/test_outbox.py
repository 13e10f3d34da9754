"""Matching writes to notifications: one per pair, bulk writes matched by the worker, rows caught up after a crash."""

from __future__ import annotations

from fastapi.testclient import TestClient

from matcher import Runtime
from matcher.notifications.outbox import notify_for_technology
from tests.conftest import AUTH
from tests.notifications.conftest import (
    HYDROGEN_TECH,
    _committed_unindexed_and_left_flagged,
    _hook,
    _pid,
    _worker,
)
from tests.webhook_receiver import Receiver


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


def test_a_row_committed_before_it_is_indexed_is_matched_later_not_dropped(
    client: TestClient, rt: Runtime
) -> None:
    """The worker can see a technology's commit before the writer (or this process's follower) has indexed it. It
    must leave the flag set then; clearing it would lose the notification for good (a flaky CI run caught this)."""
    from matcher import indexing
    from matcher.technologies.models import Technology

    pid = _pid(client, "s-hydrogen")
    row = _committed_unindexed_and_left_flagged(rt, Technology(**HYDROGEN_TECH, needs_matching=True))
    assert client.get(f"/v1/platforms/{pid}/notifications", headers=AUTH).json()["items"] == []

    with rt.engine.write_lock:  # this process indexes it now, as its writer or follower would
        indexing.apply(rt.engine, indexing.TECHNOLOGY, [(row.id, row, None)])  # type: ignore[list-item]
    _worker(rt).run_once()
    with rt.session() as s:
        assert not s.get(Technology, row.id).needs_matching
    inbox = client.get(f"/v1/platforms/{pid}/notifications", headers=AUTH).json()["items"]
    assert [n["technology_id"] for n in inbox] == [row.id]


def test_a_platform_committed_before_it_is_indexed_hears_of_technologies_later(
    client: TestClient, rt: Runtime
) -> None:
    """The same for the platform side: an active platform not yet indexed keeps its flag until it is."""
    from matcher import indexing
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

    with rt.engine.write_lock:
        indexing.apply(rt.engine, indexing.PLATFORM, [(row.id, row, None)])  # type: ignore[list-item]
    _worker(rt).run_once()
    inbox = client.get(f"/v1/platforms/{row.id}/notifications", headers=AUTH).json()["items"]
    assert [n["technology_id"] for n in inbox] == [tech["id"]]


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
