"""The public contract of taxonomy, match and health, through real HTTP on the ASGI app."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ADMIN_KEY


def test_healthz_reports_model_and_index_sizes(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["model"] == "use-multilingual-v3"
    assert body["platforms"] >= 150


def test_taxonomy_has_six_areas_and_37_directions(client: TestClient) -> None:
    body = client.get("/v1/taxonomy").json()
    assert [a["code"] for a in body["areas"]] == [
        "raw_materials",
        "equipment",
        "consumer_goods",
        "information_technology",
        "emerging_future",
        "common_needs",
    ]
    directions = [d for a in body["areas"] for d in a["directions"]]
    assert len(directions) == 37
    assert len({d["code"] for d in directions}) == 37
    for d in directions:
        assert set(d) == {"code", "name_zh", "name_en", "priority"}
        assert d["name_zh"] and d["name_en"]
    priority = {d["code"] for d in directions if d["priority"]}
    assert {"artificial_intelligence", "humanoid_robots", "quantum", "hydrogen", "biomedicine"} <= priority
    assert {t["code"] for t in body["tiers"]} == {
        "national",
        "key_cultivated",
        "provincial",
        "reserve",
        "unlisted",
    }
    assert len(body["service_types"]) == 5


def test_match_returns_ranked_explained_platforms(client: TestClient) -> None:
    r = client.post("/v1/match", json={"text": "质子交换膜电解水制氢电堆的耐久性测试", "include_weak": True})
    assert r.status_code == 200
    matches = r.json()["matches"]
    assert len(matches) == 10
    scores = [m["score"] for m in matches]
    assert scores == sorted(scores, reverse=True)
    for m in matches:
        assert {"platform_id", "name", "score", "explanation", "evidence", "tier", "province"} <= set(m)
        assert sum(m["explanation"].values()) == pytest.approx(m["score"], abs=1e-4)
        assert {"semantic", "lexical", "sector_fit", "sector_priority", "tier", "trl_fit"} <= set(
            m["explanation"]
        )


def test_match_limit_is_respected_and_capped(client: TestClient) -> None:
    assert len(client.post("/v1/match", json={"text": "battery", "limit": 3}).json()["matches"]) == 3
    r = client.post("/v1/match", json={"text": "battery", "limit": 101})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == "limit"


def test_match_filters_narrow_candidates(client: TestClient) -> None:
    r = client.post(
        "/v1/match", json={"text": "新材料中试", "area": "raw_materials", "tier": ["national", "provincial"]}
    )
    assert r.status_code == 200
    matches = r.json()["matches"]
    assert matches
    assert all(m["area"] == "raw_materials" and m["tier"] in ("national", "provincial") for m in matches)


def test_match_preferences_change_scores_not_membership(client: TestClient) -> None:
    text = "hydrogen fuel cell stack durability testing"
    plain = client.post("/v1/match", json={"text": text, "limit": 20}).json()["matches"]
    prefer = client.post("/v1/match", json={"text": text, "limit": 20, "province": "广东省"}).json()[
        "matches"
    ]
    in_gd = [m for m in prefer if m["province"] == "guangdong"]
    assert all(m["explanation"]["region"] > 0 for m in in_gd)
    assert all(m["explanation"]["region"] == 0 for m in plain)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"text": "x", "directions": ["not_a_direction"]}, "directions[0]"),
        ({"text": "x", "area": "mining"}, "area"),
        ({"text": "x", "service_types": ["design", "testing"]}, "service_types[1]"),
        ({"text": "x", "province": "Atlantis"}, "province"),
        ({"text": "x", "tier": ["gold"]}, "tier[0]"),
    ],
)
def test_unknown_codes_are_rejected_with_the_valid_ones(
    client: TestClient, payload: dict, field: str
) -> None:
    r = client.post("/v1/match", json=payload)
    assert r.status_code == 422
    body = r.json()
    assert body["status"] == 422 and body["type"].startswith("https://")
    assert body["errors"][0]["field"] == field
    assert body["errors"][0]["allowed"]


@pytest.mark.parametrize(
    "payload",
    [{}, {"text": ""}, {"text": "x", "trl": 12}, {"text": "x", "unexpected": 1}, {"text": "x" * 20001}],
)
def test_malformed_match_requests_get_problem_json(client: TestClient, payload: dict) -> None:
    r = client.post("/v1/match", json=payload)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["detail"]


def test_request_id_is_echoed(client: TestClient) -> None:
    r = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    assert client.get("/healthz").headers["x-request-id"]


def test_openapi_documents_every_route_with_a_summary(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op.get("summary"), f"{method.upper()} {path} has no summary"
    assert "examples" in str(spec["components"]["schemas"]["MatchRequest"])


def test_scores_are_calibrated_and_labelled(client: TestClient) -> None:
    everything = client.post(
        "/v1/match", json={"text": "质子交换膜电解水制氢电堆的耐久性测试", "limit": 20, "include_weak": True}
    ).json()["matches"]
    assert len(everything) == 20
    assert all(0.0 <= m["score"] <= 1.0 for m in everything)
    assert "calibration" in everything[0]["explanation"]
    for m in everything:
        expected = "good" if m["score"] >= 0.85 else "possible" if m["score"] >= 0.5 else "weak"
        assert m["fit"] == expected
    assert everything[0]["fit"] == "good"
    # Without include_weak the list ends at the third weak result: the fits and the nearest weak ones.
    shown = client.post(
        "/v1/match", json={"text": "质子交换膜电解水制氢电堆的耐久性测试", "limit": 20}
    ).json()["matches"]
    cut = max(3, sum(m["fit"] != "weak" for m in everything))
    assert shown == everything[:cut] and 3 <= len(shown) < 20


def test_readyz_reports_database_indexes_and_queue(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ready" and body["database"] is True and body["indexes_loaded"] is True
    assert body["pending_deliveries"] == 0 and body["platforms"] >= 150


def test_metrics_expose_request_and_match_latency(client: TestClient) -> None:
    client.post("/v1/match", json={"text": "钙钛矿光伏组件"})
    text = client.get("/metrics", headers={"Authorization": f"Bearer {ADMIN_KEY}"}).text
    assert "http_request_duration_seconds" in text
    assert 'pilotmatch_match_seconds_count{channel="dense"}' in text
    assert 'pilotmatch_match_seconds_count{channel="lexical"}' in text
