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


def test_feedback_is_exported_as_labels(
    small_client: TestClient, small_runtime: Runtime, tmp_path: Path
) -> None:
    tech = _technology(small_client)
    pid = tech["matches"][0]["platform_id"]
    small_client.post(
        f"/v1/technologies/{tech['id']}/matches/{pid}/feedback", json={"verdict": "good"}, headers=AUTH
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
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 1
    assert rows[0]["summary"] == "PEM电解槽膜电极放大制备，需要电堆耐久性验证"
    assert rows[0]["relevant"] == {"s-hydrogen": 2}
