"""Technology CRUD and matching in both directions, against a fresh database per test."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import AUTH


def test_technology_lifecycle_and_both_directions(small_client: TestClient) -> None:
    tech = {
        "title": "Catalyst-coated membrane",
        "summary": "A new iridium-lean catalyst-coated membrane for PEM water electrolysis; needs stack-level "
        "durability verification at pilot scale.",
        "trl": 5,
        "preferred_provinces": ["Guangdong"],
    }
    assert small_client.post("/v1/technologies", json=tech).status_code == 401
    r = small_client.post("/v1/technologies", json=tech, headers=AUTH)
    assert r.status_code == 201
    body = r.json()
    assert body["preferred_provinces"] == ["guangdong"]
    hydrogen = body["matches"][0]
    assert hydrogen["name"] == "PEM电解水制氢中试平台"
    assert hydrogen["explanation"]["region"] > 0 and hydrogen["explanation"]["trl_fit"] > 0
    tid = body["id"]
    again = small_client.get(f"/v1/technologies/{tid}/matches").json()["matches"]
    assert [m["platform_id"] for m in again] == [m["platform_id"] for m in body["matches"]]
    reverse = small_client.get(f"/v1/platforms/{hydrogen['platform_id']}/technologies").json()["matches"]
    assert reverse[0]["technology_id"] == tid
    assert reverse[0]["score"] == again[0]["score"]
    assert (
        small_client.patch(f"/v1/technologies/{tid}", json={"status": "closed"}, headers=AUTH).status_code
        == 200
    )
    assert small_client.get(f"/v1/platforms/{hydrogen['platform_id']}/technologies").json()["matches"] == []
    assert small_client.get("/v1/technologies", params={"status": "closed"}).json()["items"][0]["id"] == tid
    assert small_client.delete(f"/v1/technologies/{tid}", headers=AUTH).status_code == 204
    assert small_client.get(f"/v1/technologies/{tid}").status_code == 404


@pytest.mark.parametrize(
    "summary",
    [
        "新型膜电极用于质子交换膜电解水制氢，需要电堆级耐久性中试验证。",
        "A new membrane electrode assembly for PEM water electrolysis; we need stack-level durability trials.",
    ],
    ids=["chinese", "english"],
)
def test_a_technology_scores_the_same_in_both_directions(small_client: TestClient, summary: str) -> None:
    """A Chinese summary is ranked with feedback (its query moved toward its best platforms); an English one
    also by the English model reading the Chinese profiles' glosses. The reverse direction scores each the same
    way, so a platform sees the score the researcher sees."""
    tech = {"summary": summary, "trl": 5}
    body = small_client.post("/v1/technologies", json=tech, headers=AUTH).json()
    tid, forward = body["id"], small_client.get(f"/v1/technologies/{body['id']}/matches").json()["matches"]
    assert forward and [m["platform_id"] for m in forward] == [m["platform_id"] for m in body["matches"]]
    for match in forward:
        reverse = small_client.get(f"/v1/platforms/{match['platform_id']}/technologies").json()["matches"]
        assert [(r["technology_id"], r["score"]) for r in reverse] == [(tid, match["score"])]


def test_bad_technology_is_refused_and_not_stored(small_client: TestClient) -> None:
    for bad in (
        {"summary": ""},
        {"summary": "x", "trl": 0},
        {"summary": "x", "directions": ["nope"]},
        {"title": "t"},
    ):
        r = small_client.post("/v1/technologies", json=bad, headers=AUTH)
        assert r.status_code == 422, bad
    assert small_client.get("/v1/technologies").json()["items"] == []
