"""The service's verdict on a need ("nothing fits it well: unmet demand") is said plainly, is the coverage report's
own, ignores filters, and the list of results ends where the fits do unless weak ones are asked for."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from matcher import Runtime, match_pending
from tests.conftest import AUTH, copy_demo, make_settings

#: The verdict is worked out in the match engine; the database only stores it (tested on both elsewhere).
pytestmark = pytest.mark.backend_independent

#: Needs no demo platform can pilot (no fish or livestock breeding among the profiles).
NO_FIT = {
    "en": "We bred a tilapia line resistant to streptococcal disease by marker-assisted selection over four "
    "generations. Survival in a challenge trial rose from 35% to 80%. We now need pond trials with farmers across "
    "two seasons to confirm growth rate and survival before releasing the line to hatcheries.",
    "zh": "我们优化了牦牛冷冻精液的稀释液配方，解冻后精子活力从45%提高到65%。下一步需要在青海高原牧场开展两个配种季的"
    "人工授精试验，统计受胎率，并验证配方在低温低氧条件下运输和保存的稳定性。",
}
FITS = (
    "我们为离心压缩机不锈钢整体叶轮开发了插铣粗加工加侧铣精加工的组合刀路，希望在国产五轴加工中心上做对比加工，"
    "验证刀路可移植性、叶片轮廓精度和表面质量。"
)


def test_a_need_nothing_fits_is_unmet_demand_with_only_its_nearest_platforms(client: TestClient) -> None:
    for lang, text in NO_FIT.items():
        answer = client.post("/v1/match", json={"text": text}).json()
        assert answer["unmet_demand"] is True, (lang, answer["matches"][:1])
        # The nearest three are shown (labelled weak), the rest only on request.
        assert 1 <= len(answer["matches"]) <= 3
        assert {m["fit"] for m in answer["matches"]} == {"weak"}
        everything = client.post("/v1/match", json={"text": text, "include_weak": True}).json()
        assert len(everything["matches"]) == 10 and everything["unmet_demand"] is True
        assert [m["platform_id"] for m in everything["matches"][:3]] == [
            m["platform_id"] for m in answer["matches"]
        ]


def test_a_need_that_fits_is_not_unmet_whatever_the_filters(client: TestClient) -> None:
    answer = client.post("/v1/match", json={"text": FITS}).json()
    assert answer["unmet_demand"] is False and answer["matches"][0]["fit"] == "good"
    # Only consumer-goods platforms: none of them machines impellers, yet the need is met elsewhere.
    narrowed = client.post("/v1/match", json={"text": FITS, "area": "consumer_goods"}).json()
    assert narrowed["unmet_demand"] is False
    assert narrowed["matches"] and all(m["fit"] == "weak" for m in narrowed["matches"])
    assert len(narrowed["matches"]) <= 3
    unmet = client.post("/v1/match", json={"text": NO_FIT["en"], "tier": ["national"]}).json()
    assert unmet["unmet_demand"] is True


def test_the_verdict_is_the_one_the_coverage_report_counts(demo_runtime: Runtime, tmp_path: Path) -> None:
    """A stored technology's answer says unmet exactly when the coverage report lists it as unmet demand."""
    folder = tmp_path / "demo"
    folder.mkdir()
    copy_demo(demo_runtime, folder)
    rt = Runtime.open(make_settings(folder))
    try:
        with TestClient(create_app(runtime=rt)) as c:
            said = {}
            for text in (NO_FIT["en"], NO_FIT["zh"], FITS):
                r = c.post("/v1/technologies", json={"summary": text}, headers=AUTH)
                assert r.status_code == 201, r.text
                said[r.json()["id"]] = r.json()["unmet_demand"]
                again = c.get(f"/v1/technologies/{r.json()['id']}/matches", headers=AUTH).json()
                assert again["unmet_demand"] == said[r.json()["id"]]
            match_pending(rt.db, rt.engine, rt.settings)
            unmet = {u["technology_id"] for u in c.get("/v1/reports/coverage").json()["unmet_demand"]}
            assert {tid for tid, is_unmet in said.items() if is_unmet} == unmet & set(said)
            assert sorted(said.values()) == [False, True, True]
    finally:
        rt.close()


def test_the_report_follows_every_change_that_moves_a_verdict(demo_runtime: Runtime, tmp_path: Path) -> None:
    """After each change and the worker's pass, the report's stored best is the live one: the technology's own
    facts, its best platform's facts, a decline as the wrong sector, and a reopening after its best was
    deleted."""
    folder = tmp_path / "demo"
    folder.mkdir()
    copy_demo(demo_runtime, folder)
    rt = Runtime.open(make_settings(folder))

    def agrees(c: TestClient, tid: int) -> dict:
        match_pending(rt.db, rt.engine, rt.settings)
        live = c.get(f"/v1/technologies/{tid}/matches", params={"limit": 1}, headers=AUTH).json()
        report = c.get("/v1/reports/coverage", params={"threshold": 0.99}).json()["unmet_demand"]
        (stored,) = [u for u in report if u["technology_id"] == tid]
        assert stored["best_platform_id"] == live["matches"][0]["platform_id"]
        assert abs(stored["best_score"] - live["matches"][0]["score"]) < 1e-3
        return live

    try:
        with TestClient(create_app(runtime=rt)) as c:
            tid = c.post("/v1/technologies", json={"summary": FITS, "trl": 5}, headers=AUTH).json()["id"]
            best = agrees(c, tid)["matches"][0]["platform_id"]
            c.patch(f"/v1/technologies/{tid}", json={"trl": 9, "service_types": ["design"]}, headers=AUTH)
            agrees(c, tid)
            c.patch(
                f"/v1/platforms/{best}", json={"tier": "reserve", "trl_min": 8, "capacity": 0}, headers=AUTH
            )
            agrees(c, tid)
            said = c.put(
                f"/v1/platforms/{best}/technologies/{tid}/response",
                json={"decision": "declined", "reason": "wrong_sector"},
                headers=AUTH,
            )
            assert said.status_code == 200, said.text
            assert agrees(c, tid)["matches"][0]["platform_id"] != best
            second = agrees(c, tid)["matches"][0]["platform_id"]
            c.patch(f"/v1/technologies/{tid}", json={"status": "matched"}, headers=AUTH)
            assert c.delete(f"/v1/platforms/{second}", headers=AUTH).status_code == 204
            c.patch(f"/v1/technologies/{tid}", json={"status": "open"}, headers=AUTH)
            assert agrees(c, tid)["matches"][0]["platform_id"] not in (best, second)
    finally:
        rt.close()
