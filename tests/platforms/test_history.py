"""The audit trail through HTTP: who sees which actors, and a deleted platform's trail outliving it."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import delete

from matcher import Runtime
from matcher.platforms.models import Platform
from tests.accounts.test_province_keys import bearer, issue_key, new_platform, platform_ids
from tests.conftest import AUTH


def _actors(client: TestClient, platform_id: int, headers: dict) -> list[tuple[str, str, int | None]]:
    """(action, actor kind, actor key id) of each event, oldest first."""
    r = client.get(f"/v1/platforms/{platform_id}/history", headers=headers)
    assert r.status_code == 200, r.text
    return [(e["action"], e["actor"]["kind"], e["actor"]["key_id"]) for e in reversed(r.json())]


def test_a_platform_sees_its_own_keys_in_its_history_and_only_the_kind_of_anyone_else(
    small_client: TestClient, small_runtime: Runtime
) -> None:
    c, pid = small_client, platform_ids(small_runtime)["jiangsu"]
    full_id, full = issue_key(c, "full", None)
    province_id, js = issue_key(c)
    issued = c.post(f"/v1/platforms/{pid}/keys", headers=full).json()
    own = bearer(issued["key"])
    assert c.patch(f"/v1/platforms/{pid}", json={"capacity": 4}, headers=own).status_code == 200
    assert c.patch(f"/v1/platforms/{pid}", json={"capacity": 6}, headers=js).status_code == 200

    changes = [
        ("created", "key", "admin", full_id),
        ("updated", "platform", "platform_key", issued["id"]),
        ("updated", "platform", "province_key", province_id),
    ]
    administrators = [(action, kind, key) for action, _, kind, key in changes]
    for headers in (AUTH, full, js):
        assert _actors(c, pid, headers)[-3:] == administrators
    # Its own key sees its own key's id, and of the administrators only what kind they were.
    assert _actors(c, pid, own)[-3:] == [
        ("created", "admin", None),
        ("updated", "platform_key", issued["id"]),
        ("updated", "province_key", None),
    ]
    last = c.get(f"/v1/platforms/{pid}/history?limit=1", headers=own).json()[0]
    assert last["changes"] == {"capacity": [4, 6]} and last["actor"]["platform_id"] is None


def test_a_deleted_platforms_history_stays_with_the_administrators_of_its_province(
    small_client: TestClient, small_runtime: Runtime
) -> None:
    c, pid = small_client, platform_ids(small_runtime)["jiangsu"]
    _, js = issue_key(c)
    _, gd = issue_key(c, province="guangdong")
    own = bearer(c.post(f"/v1/platforms/{pid}/keys", headers=AUTH).json()["key"])
    assert c.patch(f"/v1/platforms/{pid}", json={"capacity": 7}, headers=js).status_code == 200
    assert c.delete(f"/v1/platforms/{pid}", headers=AUTH).status_code == 204

    for headers in (AUTH, js):
        trail = c.get(f"/v1/platforms/{pid}/history", headers=headers)
        assert trail.status_code == 200 and trail.json()[0]["action"] == "deleted"
        assert trail.json()[0]["changes"]["province"] == ["jiangsu", None]
    assert c.get(f"/v1/platforms/{pid}/history", headers=gd).status_code == 404
    assert c.get(f"/v1/platforms/{pid}/history", headers=own).status_code == 401  # revoked with its platform
    assert c.get("/v1/platforms/999999/history", headers=AUTH).status_code == 404

    # A platform removed without a deletion event (as resetting to the demo removes every platform) is read from
    # the province its trail last named, not from its last event, which need not name one.
    other = c.post("/v1/platforms", json=new_platform("jiangsu"), headers=js).json()["id"]
    assert c.patch(f"/v1/platforms/{other}", json={"capacity": 2}, headers=js).status_code == 200
    with small_runtime.session() as s:
        s.exec(delete(Platform).where(Platform.id == other))  # type: ignore[call-overload, arg-type]
        s.commit()
    assert [e["action"] for e in c.get(f"/v1/platforms/{other}/history", headers=js).json()] == [
        "updated",
        "created",
    ]
    assert c.get(f"/v1/platforms/{other}/history", headers=gd).status_code == 404
