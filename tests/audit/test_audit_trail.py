"""The audit trail: every change to a platform, its keys, its webhooks and its tier, with who and when; secrets
never in it; kept after the platform is deleted. And the administrator keys that make actors tell apart."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from matcher import Runtime
from tests.conftest import AUTH, notifying_runtime


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    rt: Runtime = notifying_runtime(tmp_path)
    with TestClient(create_app(runtime=rt)) as c:
        yield c
    rt.close()


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _history(client: TestClient, pid: int, headers: dict[str, str]) -> list[dict]:
    answer = client.get(f"/v1/platforms/{pid}/history", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_every_change_is_recorded_with_its_actor_and_no_secret(client: TestClient) -> None:
    other_admin = client.post(
        "/v1/admin-keys", json={"scope": "full", "label": "network office"}, headers=AUTH
    ).json()
    created = client.post(
        "/v1/platforms",
        json={
            "name": "钠电正极中试线",
            "tier": "reserve",
            "area": "raw_materials",
            "province": "江苏",
            "capabilities": "钠离子层状氧化物正极吨级放大与扣电验证。",
            "capacity": 2,
        },
        headers=_bearer(other_admin["key"]),
    ).json()
    pid = created["id"]
    issued = client.post(f"/v1/platforms/{pid}/keys", headers=AUTH).json()
    own = _bearer(issued["key"])
    assert client.patch(f"/v1/platforms/{pid}", json={"capacity": 3}, headers=own).status_code == 200
    assert (
        client.patch(f"/v1/platforms/{pid}", json={"capacity": 3}, headers=own).status_code == 200
    )  # no change
    hook = client.post(
        f"/v1/platforms/{pid}/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=own
    ).json()
    rotated = client.post(f"/v1/platforms/{pid}/webhooks/{hook['id']}/rotate-secret", headers=own).json()
    assert client.patch(f"/v1/platforms/{pid}", json={"tier": "provincial"}, headers=AUTH).status_code == 200

    trail = _history(client, pid, AUTH)
    seen = [(e["entity"], e["action"], e["actor"]["kind"]) for e in reversed(trail)]
    assert seen == [
        ("platform", "created", "admin"),
        ("key", "created", "admin"),
        ("platform", "updated", "platform_key"),
        ("webhook", "created", "platform_key"),
        ("webhook", "secret_rotated", "platform_key"),
        ("platform", "updated", "admin"),
    ]
    by_action = {(e["entity"], e["action"], e["actor"]["kind"]): e for e in trail}
    assert by_action[("platform", "created", "admin")]["actor"]["key_id"] == other_admin["id"]
    assert by_action[("platform", "created", "admin")]["changes"]["province"] == [None, "jiangsu"]
    assert by_action[("platform", "updated", "platform_key")]["changes"] == {"capacity": [2, 3]}
    assert by_action[("platform", "updated", "platform_key")]["actor"]["key_id"] == issued["id"]
    assert by_action[("platform", "updated", "admin")]["changes"] == {"tier": ["reserve", "provincial"]}
    text = json.dumps(trail)
    for secret in (issued["key"], other_admin["key"], hook["secret"], rotated["secret"]):
        assert secret not in text

    # The platform's own key reads its trail: its own key's id, but not which administrator's key acted.
    as_platform = _history(client, pid, own)
    assert len(as_platform) == len(trail)
    mine = [e for e in as_platform if e["actor"]["kind"] == "platform_key"]
    assert mine and all(e["actor"]["key_id"] == issued["id"] for e in mine)
    assert all(e["actor"]["key_id"] is None for e in as_platform if e["actor"]["kind"] == "admin")

    # Revoking the key and deleting the platform are recorded, and the trail outlives the platform.
    assert client.delete(f"/v1/platforms/{pid}/keys/{issued['id']}", headers=AUTH).status_code == 204
    assert client.delete(f"/v1/platforms/{pid}", headers=AUTH).status_code == 204
    assert client.get(f"/v1/platforms/{pid}").status_code == 404
    after = _history(client, pid, AUTH)
    assert [(e["entity"], e["action"]) for e in after[:2]] == [("platform", "deleted"), ("key", "revoked")]
    assert after[0]["changes"]["name"] == ["钠电正极中试线", None]
    assert client.get(f"/v1/platforms/{pid}/history", headers=own).status_code == 401  # revoked with it
    assert client.get("/v1/platforms/999999/history", headers=AUTH).status_code == 404
    assert client.get(f"/v1/platforms/{pid}/history").status_code == 401


def test_administrator_keys_are_issued_listed_and_revoked_by_the_full_admin_only(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="pilotmatch.accounts"):
        made = client.post(
            "/v1/admin-keys",
            json={"scope": "province", "province": "江苏省", "label": "Jiangsu office"},
            headers=AUTH,
        )
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["scope"], body["province"], body["label"]) == ("province", "jiangsu", "Jiangsu office")
    province_key = _bearer(body["key"])

    listed = client.get("/v1/admin-keys", headers=AUTH).json()
    assert [k["id"] for k in listed] == [body["id"]]
    assert "key" not in listed[0] and body["key"].startswith(listed[0]["prefix"])

    for bad in (
        {"scope": "province", "label": "no province"},
        {"scope": "full", "province": "jiangsu", "label": "full with a province"},
        {"scope": "province", "province": "atlantis", "label": "unknown"},
        {"scope": "regional", "label": "unknown scope"},
        {"scope": "full", "label": ""},
    ):
        refused = client.post("/v1/admin-keys", json=bad, headers=AUTH)
        assert refused.status_code == 422, bad
        assert refused.headers["content-type"] == "application/problem+json"
    # Every problem at once: the missing province beside the missing label.
    both = client.post("/v1/admin-keys", json={"scope": "province"}, headers=AUTH).json()
    assert sorted(e["field"] for e in both["errors"]) == ["label", "province"]
    assert len(client.get("/v1/admin-keys", headers=AUTH).json()) == 1  # nothing stored by the refusals

    # A province key may not manage administrator keys.
    assert client.get("/v1/admin-keys", headers=province_key).status_code == 403
    assert (
        client.post("/v1/admin-keys", json={"scope": "full", "label": "x"}, headers=province_key).status_code
        == 403
    )

    with caplog.at_level(logging.INFO, logger="pilotmatch.accounts"):
        assert client.delete(f"/v1/admin-keys/{body['id']}", headers=AUTH).status_code == 204
    # Issuing and revoking are logged with the key's id, prefix and label and who acted; never the key.
    logged = [(r.getMessage(), r.fields) for r in caplog.records if r.name == "pilotmatch.accounts"]  # type: ignore[attr-defined]
    assert [m for m, _ in logged] == ["event=admin_key_issued", "event=admin_key_revoked"]
    for _, fields in logged:
        assert (
            fields["key_id"] == body["id"] and fields["label"] == "Jiangsu office" and fields["by"] == "admin"
        )
        assert body["key"].startswith(fields["prefix"]) and body["key"] not in str(fields)
    assert client.get("/v1/platforms", headers=province_key).status_code == 401
    assert client.get("/v1/admin-keys", headers=AUTH).json()[0]["revoked_at"] is not None
    assert client.delete("/v1/admin-keys/424242", headers=AUTH).status_code == 404
