"""Applying to join and the administrators' review, through the HTTP API on a fresh database per test (the three
sample platforms: hydrogen in Guangdong, antibodies in Jiangsu, steel in Hebei)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient
from sqlalchemy import MetaData, select

from api.app import create_app
from matcher import Conflict, Principal, Runtime
from matcher.applications.review import approve_application
from matcher.applications.service import application_state
from tests.conftest import AUTH

SODIUM = {
    "name": "安徽省钠离子电池材料中试平台",
    "province": "安徽",
    "area": "emerging_future",
    "directions": ["new_energy_storage"],
    "service_types": ["process"],
    "capabilities": "钠离子电池层状氧化物正极材料公斤级到百公斤级中试，共沉淀与固相烧结工艺放大，软包电池评测。",
    "trl_min": 4,
    "trl_max": 7,
    "applicant_contact": "王工 138 0000 0000",
}
SODIUM_NEED = "钠离子电池层状氧化物正极需要百公斤级共沉淀和烧结放大"


def apply(c: TestClient, body: dict | None = None) -> dict:
    r = c.post("/v1/platform-applications", json=body or SODIUM)
    assert r.status_code == 201, r.text
    return r.json()


def province_key(c: TestClient, province: str) -> dict[str, str]:
    body = {"scope": "province", "province": province, "label": f"{province} office"}
    r = c.post("/v1/admin-keys", json=body, headers=AUTH)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['key']}"}


def names(c: TestClient) -> set[str]:
    return {p["name"] for p in c.get("/v1/platforms", params={"limit": 200}).json()["items"]}


def matched_names(c: TestClient, text: str) -> set[str]:
    return {m["name"] for m in c.post("/v1/match", json={"text": text, "limit": 50}).json()["matches"]}


def stored_anywhere(rt: Runtime, secret: str) -> bool:
    """Whether any value in any table of the database holds ``secret``."""
    tables = MetaData()
    tables.reflect(rt.db)
    with rt.db.connect() as conn:
        return any(
            secret in str(value)
            for table in tables.sorted_tables
            for row in conn.execute(select(table))
            for value in row
        )


def test_an_application_is_no_platform_until_approved_and_its_key_is_shown_once(
    small_client: TestClient, small_runtime: Runtime
) -> None:
    c = small_client
    created = apply(c)
    assert set(created) == {"id", "token", "status"} and created["status"] == "pending"
    token = created["token"]

    # Pending: not listed, matched, counted in coverage nor shown in the directory.
    assert SODIUM["name"] not in names(c)
    assert SODIUM["name"] not in matched_names(c, SODIUM_NEED)
    assert c.get("/v1/reports/coverage").json()["totals"]["platforms"] == 3
    assert SODIUM["name"] not in c.get("/platforms", headers={"accept": "text/html"}).text
    state = c.get(f"/v1/platform-applications/{token}")
    assert state.headers["cache-control"] == "no-store" and state.headers["referrer-policy"] == "no-referrer"
    assert state.json()["status"] == "pending" and state.json()["key"] is None
    queue = c.get("/v1/platform-applications", params={"status": "pending"}, headers=AUTH).json()["items"]
    assert [(a["id"], a["province"], a["applicant_contact"]) for a in queue] == [
        (created["id"], "anhui", SODIUM["applicant_contact"])
    ]
    assert queue[0]["profile"]["tier"] == "reserve"  # the default

    approved = c.post(f"/v1/platform-applications/{created['id']}/approve", headers=AUTH)
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    pid = approved.json()["platform_id"]
    again = c.post(f"/v1/platform-applications/{created['id']}/approve", headers=AUTH)
    assert again.status_code == 409
    assert len(names(c)) == 4  # created once
    assert SODIUM["name"] in matched_names(c, SODIUM_NEED)

    first = c.get(f"/v1/platform-applications/{token}").json()
    assert first["status"] == "approved" and first["platform_id"] == pid
    key = first["key"]
    assert key.startswith("pm_platform_") and first["key_shown_at"]
    assert not stored_anywhere(small_runtime, key) and stored_anywhere(
        small_runtime, SODIUM["applicant_contact"]
    )
    own = {"Authorization": f"Bearer {key}"}
    assert c.patch(f"/v1/platforms/{pid}", json={"capacity": 5}, headers=own).json()["capacity"] == 5
    second = c.get(f"/v1/platform-applications/{token}").json()
    assert second["key"] is None and second["platform_id"] == pid

    trail = c.get(f"/v1/platforms/{pid}/history", headers=AUTH).json()
    assert {(e["entity"], e["action"]) for e in trail} >= {
        ("platform", "created"),
        ("platform", "approved"),
        ("key", "created"),
    }
    assert c.get("/v1/platform-applications/not-a-token").status_code == 404


def test_a_rejected_application_reads_its_reason_and_creates_nothing(small_client: TestClient) -> None:
    c = small_client
    created = apply(c)
    reject = f"/v1/platform-applications/{created['id']}/reject"
    assert c.post(reject, json={"reason": "   "}, headers=AUTH).status_code == 422
    assert c.post(reject, json={"reason": "x" * 2001}, headers=AUTH).status_code == 422
    assert c.post(reject, json={"reason": "No pilot line is described."}, headers=AUTH).status_code == 200
    state = c.get(f"/v1/platform-applications/{created['token']}").json()
    assert (state["status"], state["reason"], state["platform_id"]) == (
        "rejected",
        "No pilot line is described.",
        None,
    )
    assert c.post(f"/v1/platform-applications/{created['id']}/approve", headers=AUTH).status_code == 409
    assert len(names(c)) == 3
    assert c.get("/v1/platform-applications", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert c.get("/v1/platform-applications").status_code == 401


def test_a_province_key_reviews_only_its_province_and_grants_no_network_tier(
    small_client: TestClient,
) -> None:
    c = small_client
    anhui = apply(c)
    jiangsu = apply(c, SODIUM | {"name": "江苏钠电中试平台", "province": "jiangsu"})
    js = province_key(c, "jiangsu")
    seen = c.get("/v1/platform-applications", headers=js).json()["items"]
    assert [a["id"] for a in seen] == [jiangsu["id"]]
    for action, body in (("approve", None), ("reject", {"reason": "not yours"})):
        r = c.post(f"/v1/platform-applications/{anhui['id']}/{action}", json=body, headers=js)
        assert r.status_code == 404
    national = c.post(
        f"/v1/platform-applications/{jiangsu['id']}/approve", json={"tier": "national"}, headers=js
    )
    assert national.status_code == 403
    assert c.get(f"/v1/platform-applications/{jiangsu['token']}").json()["status"] == "pending"
    ok = c.post(f"/v1/platform-applications/{jiangsu['id']}/approve", json={"tier": "provincial"}, headers=js)
    assert ok.status_code == 200
    platform = c.get(f"/v1/platforms/{ok.json()['platform_id']}").json()
    assert (platform["tier"], platform["province"]) == ("provincial", "jiangsu")
    # The full admin sees both, and still decides the other province's.
    assert len(c.get("/v1/platform-applications", headers=AUTH).json()["items"]) == 2
    assert c.post(f"/v1/platform-applications/{anhui['id']}/approve", headers=AUTH).status_code == 200


def test_a_bad_application_is_refused_with_every_field_named_and_stores_nothing(
    small_client: TestClient,
) -> None:
    c = small_client
    bad = SODIUM | {"tier": "national", "external_id": "mine-1", "directions": ["batteries"], "trl_min": 8}
    del bad["applicant_contact"]
    r = c.post("/v1/platform-applications", json=bad)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields >= {"tier", "external_id", "directions[0]", "trl_min", "applicant_contact"}
    unreachable = c.post("/v1/platform-applications", json=SODIUM | {"applicant_contact": "13800000000"})
    assert unreachable.status_code == 422
    assert c.get("/v1/platform-applications", headers=AUTH).json()["items"] == []


def test_applications_without_a_key_are_rate_limited_per_address(small_runtime: Runtime) -> None:
    settings = small_runtime.settings.model_copy(update={"application_rate_limit": 2})
    with TestClient(create_app(settings=settings, runtime=small_runtime)) as c:
        answers = [c.post("/v1/platform-applications", json=SODIUM).status_code for _ in range(3)]
        assert answers == [201, 201, 429]


def test_concurrent_approvals_create_one_platform_and_concurrent_reads_show_the_key_once(
    small_client: TestClient, small_runtime: Runtime
) -> None:
    created = apply(small_client)
    rt = small_runtime
    admin = Principal("admin")
    with ThreadPoolExecutor(4) as pool:
        approvals = list(
            pool.map(
                lambda _: _outcome(
                    lambda: approve_application(rt.db, rt.engine, rt.settings, created["id"], admin)
                ),
                range(4),
            )
        )
    assert sorted(approvals) == ["Conflict", "Conflict", "Conflict", "ok"]
    assert len(names(small_client)) == 4
    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(lambda _: application_state(rt.db, created["token"]).key, range(8)))
    assert len([k for k in keys if k is not None]) == 1


def _outcome(call: Callable[[], object]) -> str:
    try:
        call()
    except Conflict:
        return "Conflict"
    return "ok"
