"""Platform CRUD, auth and bad input, against a fresh database per test."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import AUTH

NEW = {
    "name": "量子精密测量中试平台",
    "tier": "reserve",
    "area": "emerging_future",
    "directions": ["quantum"],
    "capabilities": "原子磁力计与量子陀螺仪样机的工程化与环境适应性测试。",
    "province": "安徽",
}


def _match_ids(c: TestClient, text: str, limit: int = 50) -> list[int]:
    return [
        m["platform_id"] for m in c.post("/v1/match", json={"text": text, "limit": limit}).json()["matches"]
    ]


def test_writes_need_a_valid_key(small_client: TestClient) -> None:
    r = small_client.post("/v1/platforms", json=NEW)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["www-authenticate"] == "Bearer"
    r = small_client.post("/v1/platforms", json=NEW, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    assert small_client.get("/v1/platforms").json()["items"].__len__() == 3


def test_created_platform_is_stored_normalised_and_matchable_at_once(small_client: TestClient) -> None:
    r = small_client.post("/v1/platforms", json=NEW, headers=AUTH)
    assert r.status_code == 201
    body = r.json()
    assert body["province"] == "anhui"
    assert body["id"] > 0 and body["created_at"]
    assert small_client.get(f"/v1/platforms/{body['id']}").json()["name"] == NEW["name"]
    assert _match_ids(small_client, "量子陀螺仪工程样机测试")[0] == body["id"]


def test_deleted_platform_is_never_matched(small_client: TestClient) -> None:
    pid = small_client.post("/v1/platforms", json=NEW, headers=AUTH).json()["id"]
    assert pid in _match_ids(small_client, "原子磁力计")
    assert small_client.delete(f"/v1/platforms/{pid}", headers=AUTH).status_code == 204
    assert pid not in _match_ids(small_client, "原子磁力计")
    assert small_client.get(f"/v1/platforms/{pid}").status_code == 404


def test_deactivated_platform_leaves_results_and_comes_back(small_client: TestClient) -> None:
    pid = small_client.post("/v1/platforms", json=NEW, headers=AUTH).json()["id"]
    assert small_client.patch(f"/v1/platforms/{pid}", json={"active": False}, headers=AUTH).status_code == 200
    assert pid not in _match_ids(small_client, "原子磁力计")
    small_client.patch(f"/v1/platforms/{pid}", json={"active": True}, headers=AUTH)
    assert pid in _match_ids(small_client, "原子磁力计")


def test_patch_changes_text_and_match_follows(small_client: TestClient) -> None:
    pid = small_client.post("/v1/platforms", json=NEW, headers=AUTH).json()["id"]
    r = small_client.patch(
        f"/v1/platforms/{pid}",
        json={
            "capabilities": "Pilot-scale seaweed fermentation and alginate extraction for food ingredients."
        },
        headers=AUTH,
    )
    assert r.status_code == 200
    assert _match_ids(small_client, "alginate extraction from seaweed")[0] == pid


def test_bad_patch_changes_nothing(small_client: TestClient) -> None:
    pid = small_client.post("/v1/platforms", json=NEW | {"trl_min": 3, "trl_max": 6}, headers=AUTH).json()[
        "id"
    ]
    before = small_client.get(f"/v1/platforms/{pid}").json()
    for bad in ({"tier": "gold"}, {"trl_min": 8}, {"name": None}, {"directions": ["nope"]}, {"capacity": -1}):
        r = small_client.patch(f"/v1/platforms/{pid}", json=bad, headers=AUTH)
        assert r.status_code == 422, bad
        assert r.headers["content-type"].startswith("application/problem+json")
    assert small_client.get(f"/v1/platforms/{pid}").json() == before


def test_bulk_create_is_all_or_nothing(small_client: TestClient) -> None:
    items = [NEW | {"name": f"平台{i}", "external_id": f"b-{i}"} for i in range(5)]
    bad = [*items[:3], NEW | {"name": "坏的", "directions": ["nope"]}]
    r = small_client.post("/v1/platforms/bulk", json={"items": bad}, headers=AUTH)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "items[3].directions[0]"
    assert len(small_client.get("/v1/platforms").json()["items"]) == 3
    r = small_client.post("/v1/platforms/bulk", json={"items": items}, headers=AUTH)
    assert r.status_code == 201 and len(r.json()) == 5
    again = small_client.post("/v1/platforms/bulk", json={"items": items[:1]}, headers=AUTH)
    assert again.status_code == 409
    assert len(small_client.get("/v1/platforms", params={"limit": 200}).json()["items"]) == 8


def test_bulk_is_capped_at_1000(small_client: TestClient) -> None:
    r = small_client.post("/v1/platforms/bulk", json={"items": [NEW] * 1001}, headers=AUTH)
    assert r.status_code == 422


def test_oversized_body_is_refused(small_client: TestClient) -> None:
    r = small_client.post(
        "/v1/platforms/bulk",
        content=b"{" + b" " * (9 * 1024 * 1024) + b"}",
        headers=AUTH | {"Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"


def test_list_filters_and_cursor_pagination(small_client: TestClient) -> None:
    items = [NEW | {"name": f"平台{i}", "tier": "provincial" if i % 2 else "reserve"} for i in range(7)]
    small_client.post("/v1/platforms/bulk", json={"items": items}, headers=AUTH)
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = small_client.get("/v1/platforms", params=params).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 10 and seen == sorted(seen)
    assert {
        p["tier"] for p in small_client.get("/v1/platforms", params={"tier": "reserve"}).json()["items"]
    } == {"reserve"}
    quantum = small_client.get("/v1/platforms", params={"direction": "quantum"}).json()["items"]
    assert len(quantum) == 7
    assert len(small_client.get("/v1/platforms", params={"province": "Guangdong"}).json()["items"]) == 1
    assert len(small_client.get("/v1/platforms", params={"service_type": "production"}).json()["items"]) == 1
    assert small_client.get("/v1/platforms", params={"cursor": "garbage!"}).status_code == 422
    assert small_client.get("/v1/platforms", params={"area": "mining"}).status_code == 422


def test_unknown_ids_are_404_problems(small_client: TestClient) -> None:
    for method, path in (
        ("get", "/v1/platforms/999"),
        ("delete", "/v1/platforms/999"),
        ("get", "/v1/technologies/999"),
        ("get", "/v1/technologies/999/matches"),
        ("get", "/v1/platforms/999/technologies"),
    ):
        r = small_client.request(method, path, headers=AUTH)
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("application/problem+json")
