"""Capacity-aware assignment over HTTP on a copy of the demo: a run, reading it back as JSON and CSV, listing the
runs, pushing it to the platforms' inboxes once, the result page, and the refusals (platform keys, province keys
outside their province, bad input stores nothing)."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select

from api.app import create_app
from matcher import Runtime
from matcher.programmes.models import AssignmentRun
from tests.conftest import ADMIN_KEY, AUTH, copy_demo, make_settings

PROVINCE = "jiangsu"

# A copy of the seeded demo is a SQLite file (as for the browser and gap-verdict tests): the assignment's rules
# are the app's; what differs on PostgreSQL (JSON columns, locking) is tested by the other API tests on both.
pytestmark = pytest.mark.backend_independent


@pytest.fixture(scope="module")
def demo_copy(
    demo_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Runtime, TestClient]]:
    folder: Path = tmp_path_factory.mktemp("assignments")
    copy_demo(demo_runtime, folder)
    rt = Runtime.open(make_settings(folder))
    with TestClient(create_app(runtime=rt)) as client:
        yield rt, client
    rt.close()


def _technologies(client: TestClient) -> list[dict]:
    return client.get("/v1/technologies", params={"limit": 200}, headers=AUTH).json()["items"]


def _platforms(client: TestClient) -> dict[int, dict]:
    out, cursor = {}, None
    while True:
        page = client.get(
            "/v1/platforms", params={"limit": 200, **({"cursor": cursor} if cursor else {})}
        ).json()
        out |= {p["id"]: p for p in page["items"]}
        if not (cursor := page["next_cursor"]):
            return out


def _runs(rt: Runtime) -> int:
    with rt.session() as s:
        return s.exec(select(func.count()).select_from(AssignmentRun)).one()


def _key(client: TestClient, **body: str) -> dict[str, str]:
    r = client.post("/v1/admin-keys", json={"label": "test", **body}, headers=AUTH)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['key']}"}


def test_a_run_respects_slots_and_scores_reads_back_and_notifies_each_pair_once(
    demo_copy: tuple[Runtime, TestClient],
) -> None:
    _, client = demo_copy
    techs = _technologies(client)
    closed = techs[-1]["id"]
    assert (
        client.patch(f"/v1/technologies/{closed}", json={"status": "closed"}, headers=AUTH).status_code == 200
    )
    ids = [t["id"] for t in techs] + [999_999]
    r = client.post(
        "/v1/assignments",
        json={
            "technology_ids": ids,
            "per_technology": 3,
            "min_score": 0.3,
            "max_per_platform": 1,
            "label": "2026 长三角供需对接会",
        },
        headers=AUTH,
    )
    assert r.status_code == 201, r.text
    run = r.json()
    platforms = _platforms(client)

    # Each technology: distinct platforms, best first, above min_score; each platform: one, and within capacity.
    pairs = [
        (a["technology_id"], p, s)
        for a in run["assignments"]
        for p, s in zip(a["platform_ids"], a["scores"], strict=True)
    ]
    assert pairs and all(s >= 0.3 for _, _, s in pairs)
    for a in run["assignments"]:
        assert 1 <= len(set(a["platform_ids"])) == len(a["platform_ids"]) <= min(3, a["fitting"])
        assert a["scores"] == sorted(a["scores"], reverse=True)
    assert max(Counter(p for _, p, _ in pairs).values()) == 1
    assert all(platforms[p]["active"] and (platforms[p]["capacity"] or 1) >= 1 for _, p, _ in pairs)
    assert run["objective"] == pytest.approx(sum(s for _, _, s in pairs))
    assert run["objective"] >= run["greedy_objective"] - 1e-9
    reasons = {u["technology_id"]: u["reason"] for u in run["unassigned"]}
    assert reasons[999_999] == "unknown technology" and reasons[closed] == "technology is closed"
    assert {a["technology_id"] for a in run["assignments"]} | set(reasons) == set(ids)

    # Scores are the calibrated scores the technology's matches show.
    tid, pid, score = pairs[0]
    shown = client.get(f"/v1/technologies/{tid}/matches", params={"limit": 100, "include_weak": True}).json()
    assert next(m["score"] for m in shown["matches"] if m["platform_id"] == pid) == pytest.approx(score)

    # Read back, as JSON and as CSV (the researcher's contact for the full admin).
    assert client.get(f"/v1/assignments/{run['id']}", headers=AUTH).json() == run
    r = client.get(f"/v1/assignments/{run['id']}", params={"format": "csv"}, headers=AUTH)
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(int(x["technology_id"]), int(x["platform_id"])) for x in rows] == [(t, p) for t, p, _ in pairs]
    first = rows[0]
    assert (
        first["platform_name"] == platforms[pid]["name"]
        and first["platform_contact"] == platforms[pid]["contact"]
    )
    assert first["technology_contact"] == next(t["contact"] for t in techs if t["id"] == tid) != ""

    # Notify: one assignment.made per pair in the platform's inbox; a second call adds nothing.
    r = client.post(f"/v1/assignments/{run['id']}/notify", headers=AUTH)
    assert r.json() == {"created": len(pairs), "pairs": len(pairs)}
    inbox = client.get(f"/v1/platforms/{pid}/notifications", params={"type": "assignment.made"}, headers=AUTH)
    (note,) = inbox.json()["items"]
    assert note["technology_id"] == tid and note["data"]["assignment_id"] == run["id"]
    assert note["data"]["assignment_label"] == "2026 长三角供需对接会"
    assert "contact" not in note["data"]["technology"]
    assert client.post(f"/v1/assignments/{run['id']}/notify", headers=AUTH).json()["created"] == 0
    again = client.get(f"/v1/platforms/{pid}/notifications", params={"type": "assignment.made"}, headers=AUTH)
    assert len(again.json()["items"]) == 1
    assert client.get(f"/v1/assignments/{run['id']}", headers=AUTH).json()["notified_at"] is not None

    # A platform that declined for want of capacity takes nothing while it is paused (the demo's pairs that were
    # introduced already cannot be declined); nothing that high: no fit.
    answer = {"decision": "declined", "reason": "no_capacity"}
    tid, pid = next(
        (t, p)
        for t, p, _ in pairs
        if client.put(f"/v1/platforms/{p}/technologies/{t}/response", json=answer, headers=AUTH).status_code
        == 200
    )
    again = client.post(
        "/v1/assignments", json={"technology_ids": [tid], "per_technology": 5, "min_score": 0}, headers=AUTH
    ).json()
    assert again["assignments"] and pid not in again["assignments"][0]["platform_ids"]
    # Left out, min_score is where a "possible" fit starts: no weak fit is assigned unless asked for (0: any).
    default = client.post(
        "/v1/assignments", json={"technology_ids": [tid], "per_technology": 5}, headers=AUTH
    ).json()
    assert default["request"]["min_score"] == 0.5 and again["request"]["min_score"] == 0
    assert all(s >= 0.5 for a in default["assignments"] for s in a["scores"])
    assert min(again["assignments"][0]["scores"]) < 0.5
    r = client.post(
        "/v1/assignments", json={"technology_ids": [tid], "per_technology": 1, "min_score": 1}, headers=AUTH
    )
    assert r.json()["unassigned"] == [{"technology_id": tid, "reason": "no platform above min_score"}]


def test_province_keys_stay_in_their_province_and_bad_requests_store_nothing(
    demo_copy: tuple[Runtime, TestClient],
) -> None:
    rt, client = demo_copy
    techs = [t for t in _technologies(client) if t["status"] != "closed"]
    ours = [t["id"] for t in techs if PROVINCE in t["preferred_provinces"]]
    theirs = [t["id"] for t in techs if PROVINCE not in t["preferred_provinces"]]
    assert ours and theirs
    province = _key(client, scope="province", province=PROVINCE)
    platforms = _platforms(client)

    # Its own technologies, onto its own platforms only, whatever province it sends.
    r = client.post("/v1/assignments", json={"technology_ids": ours, "per_technology": 2}, headers=province)
    assert r.status_code == 201, r.text
    run = r.json()
    assert run["province"] == PROVINCE and run["request"]["province"] == PROVINCE
    assigned = [p for a in run["assignments"] for p in a["platform_ids"]]
    assert assigned and {platforms[p]["province"] for p in assigned} == {PROVINCE}
    rows = list(
        csv.DictReader(
            io.StringIO(client.get(f"/v1/assignments/{run['id']}?format=csv", headers=province).text)
        )
    )
    # The researcher's contact, as GET /v1/technologies/{id} shows it to this key (it administers them).
    contacts = {
        t["id"]: t["contact"]
        for t in client.get("/v1/technologies?limit=200", headers=province).json()["items"]
    }
    assert rows and all(
        row["technology_contact"] == (contacts[int(row["technology_id"])] or "") for row in rows
    )
    assert any(row["technology_contact"] for row in rows)
    # Left out, min_score is the "possible" fit's threshold, for a province key as for the admin.
    assert run["request"]["min_score"] == 0.5 and all(
        s >= 0.5 for a in run["assignments"] for s in a["scores"]
    )

    before = _runs(rt)
    admin_run = client.post(
        "/v1/assignments", json={"technology_ids": theirs[:2], "per_technology": 1}, headers=AUTH
    )
    assert admin_run.status_code == 201
    before += 1
    refusals = [
        # Another province's technology (or one that does not exist): 404 for the whole request.
        ({"technology_ids": [*ours, theirs[0]], "per_technology": 1}, province, 404),
        ({"technology_ids": [*ours, 999_999], "per_technology": 1}, province, 404),
        ({"technology_ids": ours, "per_technology": 1, "province": "guangdong"}, province, 404),
        ({"technology_ids": ours, "per_technology": 0}, AUTH, 422),
        ({"technology_ids": ours, "per_technology": 6}, AUTH, 422),
        ({"technology_ids": [ours[0], ours[0]], "per_technology": 1}, AUTH, 422),
        ({"technology_ids": [], "per_technology": 1}, AUTH, 422),
        ({"technology_ids": ours, "per_technology": 1, "min_score": 1.5}, AUTH, 422),
        ({"technology_ids": ours, "per_technology": 1, "province": "atlantis"}, AUTH, 422),
        ({"technology_ids": ours, "per_technology": 1, "max_per_platform": 0}, AUTH, 422),
    ]
    for body, headers, status in refusals:
        r = client.post("/v1/assignments", json=body, headers=headers)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert _runs(rt) == before

    # The list: newest first, paged; a province key's holds its province's runs only.
    mine = client.get("/v1/assignments", headers=province).json()
    assert [r["id"] for r in mine["items"]] == [run["id"]] and mine["next_cursor"] is None
    assert mine["items"][0]["province"] == PROVINCE and mine["items"][0]["technologies"] == len(ours)
    first = client.get("/v1/assignments", params={"limit": 1}, headers=AUTH).json()
    second = client.get(
        "/v1/assignments", params={"limit": 1, "cursor": first["next_cursor"]}, headers=AUTH
    ).json()
    assert (
        first["items"][0]["id"] == admin_run.json()["id"]
        and second["items"][0]["id"] < first["items"][0]["id"]
    )
    assert client.get("/v1/assignments", params={"cursor": "nonsense"}, headers=AUTH).status_code == 422

    # Another province's run, or the admin's, is 404 to a province key; a platform key may not run or read.
    other = admin_run.json()["id"]
    assert client.get(f"/v1/assignments/{other}", headers=province).status_code == 404
    assert client.post(f"/v1/assignments/{other}/notify", headers=province).status_code == 404
    platform_key = client.post(f"/v1/platforms/{assigned[0]}/keys", headers=AUTH).json()["key"]
    operator = {"Authorization": f"Bearer {platform_key}"}
    assert (
        client.post(
            "/v1/assignments", json={"technology_ids": ours, "per_technology": 1}, headers=operator
        ).status_code
        == 403
    )
    assert client.get(f"/v1/assignments/{run['id']}", headers=operator).status_code == 403
    assert client.get("/v1/assignments", headers=operator).status_code == 403
    assert client.get("/v1/assignments").status_code == 401
    assert (
        client.post("/v1/assignments", json={"technology_ids": ours, "per_technology": 1}).status_code == 401
    )
    assert _runs(rt) == before


def test_the_result_page_says_why_a_technology_got_fewer_than_k(
    demo_copy: tuple[Runtime, TestClient],
) -> None:
    """The web form run with the lowest score left blank: the API's default applies, the programme's name heads
    the page, and each technology short of k says whether fits were lacking or their slots went elsewhere."""
    _, api = demo_copy
    web = TestClient(api.app)
    web.cookies.set("pm_lang", "en")
    token = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/operator/sign-in").text).group(1)  # type: ignore[union-attr]
    signed_in = web.post(
        "/operator/sign-in", data={"key": ADMIN_KEY, "csrf_token": token}, follow_redirects=False
    )
    assert signed_in.status_code == 303
    form = {
        "label": "Autumn fair",
        "per_technology": "5",
        "min_score": "",
        "max_per_platform": "1",
        "respect_capacity": "true",
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', web.get("/assignments").text).group(1),  # type: ignore[union-attr]
    }
    r = web.post("/assignments", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    run = api.get(f"/v1/assignments/{r.headers['location'].rsplit('/', 1)[1]}", headers=AUTH).json()
    assert run["request"]["min_score"] == 0.5 and run["request"]["label"] == "Autumn fair"

    page = web.get(r.headers["location"]).text
    assert "Autumn fair" in page and "Lowest score 0.5." in page
    short = [a for a in run["assignments"] if len(a["platform_ids"]) < 5]
    assert short, "with one slot per platform and k = 5, some technology falls short"
    for a in short:
        got = len(a["platform_ids"])
        reason = (
            f"only {a['fitting']}."
            if a["fitting"] <= got
            else f"{a['fitting']}; {a['fitting'] - got} of them gave their slots to pairs scoring more in total."
        )
        assert (
            f"#{a['technology_id']}: got {got} of 5; platforms at or above the lowest score with a slot: {reason}"
            in page
        )
