"""Feedback on matches: stored with the pair's score, listed, validated, and exported as labels."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from matcher import Runtime
from tests.conftest import AUTH

ROOT = Path(__file__).resolve().parents[2]


def _technology(c: TestClient) -> dict:
    r = c.post(
        "/v1/technologies",
        json={"summary": "PEM电解槽膜电极放大制备，需要电堆耐久性验证", "trl": 5},
        headers=AUTH,
    )
    assert r.status_code == 201
    return r.json()


def test_feedback_round_trip(small_client: TestClient) -> None:
    tech = _technology(small_client)
    top = tech["matches"][0]
    url = f"/v1/technologies/{tech['id']}/matches/{top['platform_id']}/feedback"
    assert small_client.post(url, json={"verdict": "good"}).status_code == 401
    r = small_client.post(url, json={"verdict": "good"}, headers=AUTH)
    assert r.status_code == 201
    assert r.json()["score"] == top["score"]
    other = tech["matches"][-1]["platform_id"]
    r = small_client.post(
        f"/v1/technologies/{tech['id']}/matches/{other}/feedback",
        json={"verdict": "bad", "reason": "wrong_sector"},
        headers=AUTH,
    )
    assert r.status_code == 201
    listed = small_client.get(f"/v1/technologies/{tech['id']}/feedback").json()
    assert [(f["verdict"], f["reason"]) for f in listed] == [("good", None), ("bad", "wrong_sector")]


def test_bad_feedback_is_refused(small_client: TestClient) -> None:
    tech = _technology(small_client)
    pid = tech["matches"][0]["platform_id"]
    url = f"/v1/technologies/{tech['id']}/matches/{pid}/feedback"
    assert small_client.post(url, json={"verdict": "meh"}, headers=AUTH).status_code == 422
    r = small_client.post(url, json={"verdict": "bad", "reason": "too expensive"}, headers=AUTH)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    assert (
        small_client.post(
            f"/v1/technologies/{tech['id']}/matches/999/feedback", json={"verdict": "good"}, headers=AUTH
        ).status_code
        == 404
    )
    assert small_client.get(f"/v1/technologies/{tech['id']}/feedback").json() == []


def test_feedback_and_the_loop_are_exported_as_graded_labels(
    small_client: TestClient, small_runtime: Runtime, tmp_path: Path
) -> None:
    """Recorded feedback wins for its pair; an agreed pilot test is ideal (2), interest suitable (1), a wrong-
    process decline a rejection, and a decline for want of capacity no label at all."""
    for p in small_client.get("/v1/platforms").json()["items"]:  # every platform hears of every technology
        small_client.patch(f"/v1/platforms/{p['id']}", json={"notify_min_score": 0.0}, headers=AUTH)
    tech = _technology(small_client)
    first, second, third = (m["platform_id"] for m in tech["matches"][:3])
    tid = tech["id"]
    small_client.put(
        f"/v1/platforms/{first}/technologies/{tid}/response", json={"decision": "interested"}, headers=AUTH
    )
    intro = small_client.post(
        f"/v1/submissions/{tech['token']}/introductions", json={"platform_id": first}
    ).json()
    small_client.patch(f"/v1/introductions/{intro['id']}", json={"status": "agreed"}, headers=AUTH)
    small_client.put(
        f"/v1/platforms/{second}/technologies/{tid}/response",
        json={"decision": "declined", "reason": "wrong_process"},
        headers=AUTH,
    )
    small_client.put(
        f"/v1/platforms/{third}/technologies/{tid}/response",
        json={"decision": "declined", "reason": "no_capacity"},
        headers=AUTH,
    )
    other = _technology(small_client)
    pid = other["matches"][0]["platform_id"]
    small_client.put(
        f"/v1/platforms/{pid}/technologies/{other['id']}/response",
        json={"decision": "interested"},
        headers=AUTH,
    )
    small_client.post(
        f"/v1/technologies/{other['id']}/matches/{pid}/feedback", json={"verdict": "good"}, headers=AUTH
    )
    out = tmp_path / "labels.jsonl"
    env = {
        "PILOTMATCH_DATABASE_URL": small_runtime.settings.database_url,
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "evaluate.py"), "--export-labels", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rows = {row["id"]: row for row in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert set(rows) == {f"feedback-t{tid}", f"feedback-t{other['id']}"}
    names = {p["id"]: p["external_id"] for p in small_client.get("/v1/platforms").json()["items"]}
    loop = rows[f"feedback-t{tid}"]
    assert loop["summary"] == "PEM电解槽膜电极放大制备，需要电堆耐久性验证"
    assert loop["relevant"] == {names[first]: 2}
    assert loop["rejected"] == {names[second]: "wrong_process"}
    assert loop["evidence"] == {names[first]: "agreed", names[second]: "declined"}
    curated = rows[f"feedback-t{other['id']}"]
    assert curated["relevant"] == {names[pid]: 2} and curated["evidence"] == {names[pid]: "feedback"}
