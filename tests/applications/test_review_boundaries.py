"""The boundaries of review and of a province's reach, as the attacker probe tried them: a platform cannot move
itself to another province, a held edit follows its platform and never undoes a later change, a province key
cannot delete what it could not have created, and applicants apply only for the tiers a province gives."""

from __future__ import annotations

from fastapi.testclient import TestClient

from matcher import Runtime
from tests.applications.test_revisions import BATTERY, hydrogen
from tests.conftest import AUTH


def _province_key(c: TestClient, province: str) -> dict[str, str]:
    made = c.post(
        "/v1/admin-keys", json={"scope": "province", "province": province, "label": province}, headers=AUTH
    )
    return {"Authorization": f"Bearer {made.json()['key']}"}


def test_a_held_edit_follows_its_platform_and_never_undoes_a_later_change(
    small_client: TestClient, small_runtime: Runtime
) -> None:
    c = small_client
    pid, own = hydrogen(small_runtime)
    url = f"/v1/platforms/{pid}"
    home = c.get(url).json()["province"]
    assert home is not None

    # The platform's own key may not move it out of its administrators' reach, even by sending every field.
    moved = c.patch(url, json={"province": "jiangsu"}, headers=own)
    assert moved.status_code == 403 and moved.headers["content-type"] == "application/problem+json"
    assert c.patch(url, json={"province": home, "capacity": 3}, headers=own).status_code == 200

    # A rewrite is held with the fields it changes only, even when the whole form is sent.
    profile = {k: v for k, v in c.get(url).json().items() if k in ("name", "province", "website", "contact")}
    held = c.patch(url, json=profile | {"capabilities": BATTERY}, headers=own)
    assert held.status_code == 202
    (queued,) = c.get("/v1/platform-applications", params={"status": "pending"}, headers=AUTH).json()["items"]
    assert set(queued["profile"]) == {"capabilities"}

    # While it waits, another edit of what review reads is refused at once; a fact still applies.
    assert c.patch(url, json={"capabilities": BATTERY + " 扩产"}, headers=own).status_code == 409
    assert c.patch(url, json={"capacity": 5}, headers=own).status_code == 200

    # The full admin moves the platform: the held edit goes with it to the new province's administrators.
    old, new = _province_key(c, home), _province_key(c, "jiangsu")
    assert c.patch(url, json={"province": "jiangsu"}, headers=AUTH).status_code == 200
    approve = f"/v1/platform-applications/{queued['id']}/approve"
    assert c.post(approve, headers=old).status_code == 404
    assert [a["id"] for a in c.get("/v1/platform-applications", headers=new).json()["items"]] == [
        queued["id"]
    ]

    # An administrator changed the held field meanwhile: approving would undo it, so it is refused.
    assert c.patch(url, json={"capabilities": BATTERY + "（管理员修订）"}, headers=AUTH).status_code == 200
    refused = c.post(approve, headers=new)
    assert refused.status_code == 409 and "capabilities" in refused.json()["detail"]
    assert c.get(url).json()["capabilities"] == BATTERY + "（管理员修订）"
    assert c.get(url).json()["province"] == "jiangsu"

    # Rejected, the edit stays on record after the platform is deleted; the trail is the province it was in.
    reason = {"reason": "Superseded by the administrator's revision."}
    assert (
        c.post(f"/v1/platform-applications/{queued['id']}/reject", json=reason, headers=new).status_code
        == 200
    )
    assert c.delete(url, headers=AUTH).status_code == 204
    decided = c.get("/v1/platform-applications", params={"status": "rejected"}, headers=AUTH).json()["items"]
    assert [a["id"] for a in decided] == [queued["id"]]
    assert c.get(f"{url}/history", headers=new).status_code == 200
    assert c.get(f"{url}/history", headers=old).status_code == 404


def test_province_keys_delete_only_what_they_could_create_and_applicants_ask_only_province_tiers(
    small_client: TestClient,
) -> None:
    c = small_client
    hebei = _province_key(c, "hebei")
    national = next(p for p in c.get("/v1/platforms").json()["items"] if p["tier"] == "national")
    assert national["province"] == "hebei"
    refused = c.delete(f"/v1/platforms/{national['id']}", headers=hebei)
    assert refused.status_code == 403
    assert c.get(f"/v1/platforms/{national['id']}").status_code == 200

    application = {
        "name": "河北省特种钢材料中试平台",
        "province": "hebei",
        "area": "raw_materials",
        "capabilities": "特种钢冶炼与热处理工艺中试。",
        "applicant_contact": "li@example.cn",
    }
    for tier in ("unlisted", "national", "key_cultivated"):
        asked = c.post("/v1/platform-applications", json=application | {"tier": tier})
        assert asked.status_code == 422, tier
    assert c.get("/v1/platform-applications", headers=AUTH).json()["items"] == []
    assert c.post("/v1/platform-applications", json=application | {"tier": "provincial"}).status_code == 201


def test_a_province_key_cannot_take_a_shared_technology_from_another_provinces_care(
    small_client: TestClient,
) -> None:
    c = small_client
    shared = c.post(
        "/v1/technologies",
        json={"summary": "钠离子电池正极材料公斤级放大验证。", "preferred_provinces": ["jiangsu", "anhui"]},
        headers=AUTH,
    ).json()
    anhui = _province_key(c, "anhui")
    url = f"/v1/technologies/{shared['id']}"
    refused = c.patch(url, json={"preferred_provinces": ["anhui"]}, headers=anhui)
    assert refused.status_code == 403 and "jiangsu" in refused.json()["detail"]
    assert c.get(url).json()["preferred_provinces"] == ["jiangsu", "anhui"]
    assert (
        c.patch(url, json={"preferred_provinces": ["jiangsu", "anhui", "hebei"]}, headers=anhui).status_code
        == 200
    )
