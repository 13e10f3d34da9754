"""An operator's edit that makes the platform a different one goes back to review; other edits apply at once
(docs/decisions/0019). Against the three sample platforms, through the HTTP API."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import select

from matcher import Runtime, create_platform_key
from matcher.platforms.models import Platform
from tests.conftest import AUTH

#: The hydrogen platform's capabilities in English: the same platform, so never held.
HYDROGEN_EN = (
    "PEM electrolyser stack assembly and performance testing, durability validation of megawatt hydrogen "
    "systems, membrane electrode coating scale-up."
)
#: The same platform rewritten as a battery materials line: another platform for matching.
BATTERY = "磷酸铁锂、高镍三元正极材料百吨级中试线，提供共沉淀、烧结、包覆工艺验证与扣式/软包电池评测。"


def hydrogen(rt: Runtime) -> tuple[int, dict[str, str]]:
    with rt.session() as s:
        pid = s.exec(select(Platform.id).where(Platform.external_id == "s-hydrogen")).one()
    _, key = create_platform_key(rt.db, pid)  # type: ignore[arg-type]
    return pid, {"Authorization": f"Bearer {key}"}  # type: ignore[return-value]


def test_an_operators_edit_into_another_platform_waits_for_review_and_others_apply_at_once(
    small_client: TestClient, small_runtime: Runtime
) -> None:
    c = small_client
    pid, own = hydrogen(small_runtime)
    url = f"/v1/platforms/{pid}"
    published = c.get(url).json()

    # A translation and a fact are the same platform: applied at once.
    assert c.patch(url, json={"capabilities": HYDROGEN_EN, "capacity": 4}, headers=own).status_code == 200
    assert c.get(url).json()["capabilities"] == HYDROGEN_EN

    # A rewrite into battery materials is held: 202, the profile unchanged, the edit in the review queue.
    held = c.patch(url, json={"capabilities": BATTERY, "capacity": 9}, headers=own)
    assert (
        held.status_code == 202 and held.json()["revision_of"] == pid and held.json()["status"] == "pending"
    )
    assert (c.get(url).json()["capabilities"], c.get(url).json()["capacity"]) == (HYDROGEN_EN, 4)
    # One edit waits at a time; a second one that needs review is refused until the first is decided.
    second = c.patch(url, json={"directions": ["biomedicine"]}, headers=own)
    assert second.status_code == 409
    (queued,) = c.get("/v1/platform-applications", params={"status": "pending"}, headers=AUTH).json()["items"]
    assert queued["profile"] == {"capabilities": BATTERY, "capacity": 9}
    assert queued["current"] == {"capabilities": HYDROGEN_EN, "capacity": 4}
    assert (
        queued["held_because"]["capabilities_similarity"]
        < small_runtime.settings.review_capabilities_similarity
    )
    assert c.post(f"/v1/platform-applications/{queued['id']}/approve", headers=AUTH).status_code == 200
    assert (c.get(url).json()["capabilities"], c.get(url).json()["capacity"]) == (BATTERY, 9)
    follow = c.get(f"/v1/platform-applications/{held.json()['token']}").json()
    assert (follow["status"], follow["platform_id"], follow["key"]) == ("approved", pid, None)

    # Directions into another key area are held too; rejected, the profile stays as it was.
    moved = c.patch(url, json={"directions": ["biomedicine"]}, headers=own)
    assert moved.status_code == 202
    (queued,) = c.get("/v1/platform-applications", params={"status": "pending"}, headers=AUTH).json()["items"]
    assert queued["held_because"] == {"new_areas": ["consumer_goods"]}
    reason = {"reason": "Biomedicine is not what this line does."}
    assert (
        c.post(f"/v1/platform-applications/{queued['id']}/reject", json=reason, headers=AUTH).status_code
        == 200
    )
    assert c.get(url).json()["directions"] == published["directions"]
    follow = c.get(f"/v1/platform-applications/{moved.json()['token']}").json()
    assert (follow["status"], follow["reason"]) == ("rejected", reason["reason"])

    actions = [e["action"] for e in c.get(f"{url}/history", headers=own).json()]
    assert actions[:4] == ["revision_rejected", "revision_held", "approved", "updated"]

    # A text cut down from the published words describes no new capability: applied at once.
    cut = {"capabilities": "磷酸铁锂\n正极材料中试线"}
    assert c.patch(url, json=cut, headers=own).json()["capabilities"] == cut["capabilities"]

    # An administrator's edit is never held, and a bad held edit is a 422 that stores nothing.
    assert c.patch(url, json={"directions": ["biomedicine"]}, headers=AUTH).status_code == 200
    bad = c.patch(url, json={"capabilities": "CHO cell culture", "trl_min": 9, "trl_max": 2}, headers=own)
    assert bad.status_code == 422
    assert (
        c.get("/v1/platform-applications", params={"status": "pending"}, headers=AUTH).json()["items"] == []
    )


def test_deleting_a_platform_drops_its_edit_waiting_for_review(
    small_client: TestClient, small_runtime: Runtime
) -> None:
    pid, own = hydrogen(small_runtime)
    held = small_client.patch(f"/v1/platforms/{pid}", json={"capabilities": BATTERY}, headers=own)
    assert held.status_code == 202
    assert small_client.delete(f"/v1/platforms/{pid}", headers=AUTH).status_code == 204
    assert small_client.get("/v1/platform-applications", headers=AUTH).json()["items"] == []
    assert small_client.get(f"/v1/platform-applications/{held.json()['token']}").status_code == 404
