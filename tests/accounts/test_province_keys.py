"""Province administrators through HTTP: a province key does what the admin key does over its own province's
platforms and technologies, sees reports of its province only, and nothing of any other province (404, as if it
did not exist); the tiers MIIT awards stay with the full admin (403)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import select

from matcher import Runtime
from matcher.platforms.models import Platform
from tests.conftest import AUTH

ANTIBODY_TEXT = (
    "We developed a CHO cell line expressing a bispecific monoclonal antibody at 3 g/L in shake flasks and need "
    "200 L single-use bioreactor runs, protein A capture and GMP pilot batches."
)
HYDROGEN_TEXT = (
    "质子交换膜电解水制氢的低铱催化剂涂层膜，需要在兆瓦级PEM电解槽电堆上做耐久性验证和膜电极涂布放大。"
)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def issue_key(
    client: TestClient, scope: str = "province", province: str | None = "jiangsu"
) -> tuple[int, dict]:
    """An administrator key from the full admin: (its id, its Authorization header)."""
    body = {"scope": scope, "label": f"{scope} {province}"} | ({"province": province} if province else {})
    r = client.post("/v1/admin-keys", json=body, headers=AUTH)
    assert r.status_code == 201, r.text
    return r.json()["id"], bearer(r.json()["key"])


def platform_ids(rt: Runtime) -> dict[str, int]:
    """The sample platforms by province: guangdong (hydrogen, key_cultivated), jiangsu (antibody, provincial),
    hebei (steel, national)."""
    with rt.session() as s:
        return {p.province: p.id for p in s.exec(select(Platform)).all()}  # type: ignore[misc]


def new_platform(province: str, tier: str = "reserve") -> dict:
    return {
        "name": f"{province} pilot line",
        "tier": tier,
        "area": "consumer_goods",
        "directions": ["biomedicine"],
        "province": province,
        "capabilities": "Fill-finish of biologics in a 500 L pilot suite with isolator filling.",
    }


def test_a_province_key_administers_its_province_platforms_and_nothing_else(
    small_client: TestClient, small_runtime: Runtime
) -> None:
    c, ids = small_client, platform_ids(small_runtime)
    _, js = issue_key(c)
    own, other, national = ids["jiangsu"], ids["guangdong"], ids["hebei"]

    # Create: in its province, with the tiers it may give.
    created = c.post("/v1/platforms", json=new_platform("江苏"), headers=js)
    assert created.status_code == 201 and created.json()["province"] == "jiangsu"
    assert c.post("/v1/platforms", json=new_platform("guangdong"), headers=js).status_code == 403
    for tier in ("national", "key_cultivated", "unlisted"):
        refused = c.post("/v1/platforms", json=new_platform("jiangsu", tier), headers=js)
        assert refused.status_code == 403 and "reserve and provincial only" in refused.json()["detail"]
    bulk = {"items": [new_platform("jiangsu"), new_platform("hebei")]}
    assert (
        c.post("/v1/platforms/bulk", json=bulk, headers=js).status_code == 403
    )  # one row outside: none stored

    # Edit its own: facts and the tiers reserve/provincial, never a network tier or another province.
    assert (
        c.patch(f"/v1/platforms/{own}", json={"capacity": 5, "tier": "reserve"}, headers=js).status_code
        == 200
    )
    assert c.patch(f"/v1/platforms/{own}", json={"tier": "national"}, headers=js).status_code == 403
    moved = c.patch(f"/v1/platforms/{own}", json={"province": "guangdong"}, headers=js)
    assert moved.status_code == 403 and "jiangsu" in moved.json()["detail"]
    assert c.get(f"/v1/platforms/{own}").json()["province"] == "jiangsu"

    # Another province's platform does not exist for it, whatever the route.
    outside = [
        ("PATCH", f"/v1/platforms/{other}", {"capacity": 9}),
        ("DELETE", f"/v1/platforms/{other}", None),
        ("POST", f"/v1/platforms/{other}/keys", None),
        ("GET", f"/v1/platforms/{other}/keys", None),
        ("GET", f"/v1/platforms/{other}/webhooks", None),
        ("POST", f"/v1/platforms/{other}/webhooks", {"url": "https://example.com/hook"}),
        ("GET", f"/v1/platforms/{other}/history", None),
        ("GET", f"/v1/platforms/{other}/notifications", None),
        ("PATCH", f"/v1/platforms/{national}", {"tier": "reserve"}),
    ]
    for method, url, body in outside:
        r = c.request(method, url, json=body, headers=js)
        assert r.status_code == 404, (method, url, r.status_code)
    # ... while its own answer.
    key = c.post(f"/v1/platforms/{own}/keys", headers=js)
    assert key.status_code == 201
    assert c.get(f"/v1/platforms/{own}/keys", headers=js).json()[0]["id"] == key.json()["id"]
    assert c.delete(f"/v1/platforms/{own}/keys/{key.json()['id']}", headers=js).status_code == 204
    assert c.get(f"/v1/platforms/{own}/webhooks", headers=js).status_code == 200
    assert c.delete(f"/v1/platforms/{created.json()['id']}", headers=js).status_code == 204

    # The full admin's own: administrator keys, the network's tiers and metrics.
    assert c.get("/v1/admin-keys", headers=js).status_code == 403
    assert c.post("/v1/admin-keys", json={"scope": "full", "label": "x"}, headers=js).status_code == 403
    assert c.get("/metrics", headers=js).status_code == 403
    # The full admin is unaffected: every province, every tier.
    assert c.patch(f"/v1/platforms/{other}", json={"tier": "national"}, headers=AUTH).status_code == 200


def test_a_province_key_runs_the_technologies_of_its_province_and_sees_only_their_contacts(
    small_client: TestClient, small_runtime: Runtime
) -> None:
    c = small_client
    _, js = issue_key(c)
    mine = {"summary": ANTIBODY_TEXT, "preferred_provinces": ["江苏", "guangdong"], "contact": "mine@lab.cn"}
    theirs = {"summary": HYDROGEN_TEXT, "preferred_provinces": ["guangdong"], "contact": "theirs@lab.cn"}
    nowhere = {"summary": HYDROGEN_TEXT, "contact": "nowhere@lab.cn"}

    refused = c.post("/v1/technologies", json=theirs, headers=js)
    assert (
        refused.status_code == 403 and "preferred_provinces must include jiangsu" in refused.json()["detail"]
    )
    assert c.post("/v1/technologies", json=nowhere, headers=js).status_code == 403
    created = c.post("/v1/technologies", json=mine, headers=js)
    assert created.status_code == 201 and created.json()["contact"] == "mine@lab.cn"
    tid = created.json()["id"]
    other = c.post("/v1/technologies", json=theirs, headers=AUTH).json()["id"]
    lone = c.post("/v1/technologies", json=nowhere, headers=AUTH).json()["id"]

    # Contacts: an administrator over the technology only (the full admin over all of them).
    assert c.get(f"/v1/technologies/{tid}", headers=js).json()["contact"] == "mine@lab.cn"
    assert c.get(f"/v1/technologies/{other}", headers=js).json()["contact"] is None
    listed = {t["id"]: t["contact"] for t in c.get("/v1/technologies", headers=js).json()["items"]}
    assert listed == {tid: "mine@lab.cn", other: None, lone: None}
    everything = {t["id"]: t["contact"] for t in c.get("/v1/technologies", headers=AUTH).json()["items"]}
    assert None not in everything.values()
    platform_key = c.post(f"/v1/platforms/{platform_ids(small_runtime)['jiangsu']}/keys", headers=AUTH).json()
    assert c.get(f"/v1/technologies/{tid}", headers=bearer(platform_key["key"])).json()["contact"] is None
    assert c.post("/v1/technologies", json=mine, headers=bearer(platform_key["key"])).status_code == 403

    # Writes: its own technologies; another province's (or none's) do not exist for it.
    pid = platform_ids(small_runtime)["jiangsu"]
    good = {"verdict": "good"}
    for t in (other, lone):
        assert c.patch(f"/v1/technologies/{t}", json={"trl": 6}, headers=js).status_code == 404
        assert (
            c.post(f"/v1/technologies/{t}/matches/{pid}/feedback", json=good, headers=js).status_code == 404
        )
        assert c.delete(f"/v1/technologies/{t}", headers=js).status_code == 404
    assert c.patch(f"/v1/technologies/{tid}", json={"trl": 6}, headers=js).json()["trl"] == 6
    handed_off = c.patch(f"/v1/technologies/{tid}", json={"preferred_provinces": ["guangdong"]}, headers=js)
    assert handed_off.status_code == 403
    assert c.post(f"/v1/technologies/{tid}/matches/{pid}/feedback", json=good, headers=js).status_code == 201
    assert c.delete(f"/v1/technologies/{tid}", headers=js).status_code == 204
    assert c.delete(f"/v1/technologies/{lone}", headers=AUTH).status_code == 204


def test_a_province_key_acts_as_admin_on_its_province_introductions_only(
    small_client: TestClient, small_runtime: Runtime
) -> None:
    c, ids = small_client, platform_ids(small_runtime)
    _, js = issue_key(c)

    def introduction(text: str, platform_id: int) -> tuple[int, int]:
        made = c.post("/v1/submissions", json={"summary": text, "contact": "r@lab.cn", "trl": 5})
        assert made.status_code == 201, made.text
        token, tid = made.json()["token"], made.json()["technology"]["id"]
        asked = c.post(f"/v1/submissions/{token}/introductions", json={"platform_id": platform_id})
        assert asked.status_code == 201, asked.text
        return tid, asked.json()["id"]

    tid, mine = introduction(ANTIBODY_TEXT, ids["jiangsu"])
    other_tid, theirs = introduction(HYDROGEN_TEXT, ids["guangdong"])

    answer = {"decision": "interested"}
    answered = c.put(f"/v1/platforms/{ids['jiangsu']}/technologies/{tid}/response", json=answer, headers=js)
    assert answered.status_code == 200, answered.text
    seen = c.get(f"/v1/introductions/{mine}", headers=js)
    assert seen.status_code == 200 and seen.json()["status"] == "introduced"
    assert seen.json()["events"][-1]["actor"] == "admin"  # on the platform's behalf, as the admin would
    moved = c.patch(f"/v1/introductions/{mine}", json={"status": "agreed"}, headers=js)
    assert moved.status_code == 200 and moved.json()["events"][-1]["actor"] == "admin"

    assert c.get(f"/v1/introductions/{theirs}", headers=js).status_code == 404
    assert c.patch(f"/v1/introductions/{theirs}", json={"status": "declined"}, headers=js).status_code == 404
    url = f"/v1/platforms/{ids['guangdong']}/technologies/{other_tid}/response"
    assert c.put(url, json=answer, headers=js).status_code == 404
    assert c.get(f"/v1/introductions/{theirs}", headers=AUTH).json()["status"] == "requested"  # untouched


def test_a_province_key_reports_on_its_province_only(
    small_client: TestClient, small_runtime: Runtime
) -> None:
    c = small_client
    _, js = issue_key(c)
    c.post(
        "/v1/technologies", json={"summary": ANTIBODY_TEXT, "preferred_provinces": ["jiangsu"]}, headers=AUTH
    )
    c.post(
        "/v1/technologies",
        json={"summary": HYDROGEN_TEXT, "preferred_provinces": ["guangdong"]},
        headers=AUTH,
    )
    c.post("/v1/technologies", json={"summary": HYDROGEN_TEXT}, headers=AUTH)

    whole = c.get("/v1/reports/coverage").json()
    assert (
        whole["province"] is None
        and whole["totals"]["platforms"] == 3
        and whole["totals"]["technologies"] == 3
    )
    scoped = c.get("/v1/reports/coverage", headers=js).json()
    assert scoped["province"] == "jiangsu"
    assert (scoped["totals"]["platforms"], scoped["totals"]["technologies"]) == (1, 1)
    assert {cell["province"] for cell in scoped["cells"]} == {"jiangsu"}
    # The same as anyone asking for that province; its own province named is no different.
    asked = c.get("/v1/reports/coverage", params={"province": "江苏"}).json()
    assert (
        asked["totals"]
        == scoped["totals"]
        == c.get("/v1/reports/coverage?province=jiangsu", headers=js).json()["totals"]
    )
    assert c.get("/v1/reports/coverage?province=guangdong", headers=js).status_code == 403
    csv = c.get("/v1/reports/coverage?format=csv", headers=js).text
    assert ",guangdong," not in csv and ",jiangsu," in csv

    funnel = c.get("/v1/reports/funnel", headers=js)
    assert funnel.status_code == 200 and funnel.json()["filters"]["province"] == "jiangsu"
    assert c.get("/v1/reports/funnel?province=hebei", headers=js).status_code == 403
    activity = c.get("/v1/reports/platform-activity", headers=js)
    assert activity.status_code == 200
    assert {p["province"] for p in activity.json()["platforms"]} <= {"jiangsu"}
    assert c.get("/v1/reports/platform-activity?province=hebei", headers=js).status_code == 403
    assert c.get("/v1/reports/funnel", headers=AUTH).json()["filters"]["province"] is None  # the admin: all


def test_a_revoked_province_key_is_refused_at_once_and_its_web_session_ends(small_client: TestClient) -> None:
    c = small_client
    key_id, js = issue_key(c)
    token = _csrf(c.get("/operator/sign-in").text)
    key = js["Authorization"].removeprefix("Bearer ")
    signed_in = c.post("/operator/sign-in", data={"key": key, "csrf_token": token}, follow_redirects=False)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/platforms"
    assert "Province administrator · Jiangsu" in c.get("/platforms", cookies={"pm_lang": "en"}).text

    assert c.delete(f"/v1/admin-keys/{key_id}", headers=AUTH).status_code == 204
    assert c.get("/v1/reports/platform-activity", headers=js).status_code == 401
    page = c.get("/reports/activity", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/operator/sign-in")
    assert [k["revoked_at"] is not None for k in c.get("/v1/admin-keys", headers=AUTH).json()] == [True]


def _csrf(html: str) -> str:
    import re

    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
