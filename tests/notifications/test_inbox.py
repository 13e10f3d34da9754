"""The inbox API: newest first, paged."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import AUTH
from tests.notifications.conftest import (
    HYDROGEN_TECH,
    _pid,
)


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
