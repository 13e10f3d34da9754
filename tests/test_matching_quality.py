"""Matching works in Chinese, in English and across the two, on the demo platforms with the real model."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from matcher.runtime import Runtime


def _external_ids(rt: Runtime, ids: list[int]) -> list[str]:
    from matcher.platforms.models import Platform

    with rt.session() as s:
        return [s.get(Platform, i).external_id for i in ids]  # type: ignore[union-attr]


CASES = [
    # (slice, query, external_id expected in the top 3)
    (
        "en→zh",
        "Our alkaline water electrolysis electrodes need verification in a pilot electrolyser for green hydrogen "
        "production.",
        "ef-p018",
    ),
    (
        "en→zh",
        "A new medium-manganese advanced high-strength steel for car bodies; we need hot strip rolling and "
        "controlled cooling trials.",
        "rm-p013",
    ),
    (
        "en→zh",
        "We evolved a transaminase enzyme that makes a chiral amine drug intermediate and need biocatalysis scale-up.",
        "ef-p050",
    ),
    ("en→zh", "Fabrication of superconducting transmon qubit chips with better coherence", "ef-p009"),
    ("zh→en", "稀释制冷机整机装配与极低温性能测试", "ef-p012"),
    ("zh→en", "智能家居产品出口欧盟的CE和UL认证测试", "ef-p060"),
    ("zh→zh", "人形机器人关节模组的寿命测试与小批量试制", "ef-p001"),
    ("zh→zh", "钙钛矿光伏组件中试线稳定性验证", "ef-p035"),
]


@pytest.mark.parametrize(("slice_", "query", "expected"), CASES, ids=[f"{c[0]}:{c[2]}" for c in CASES])
def test_expected_platform_is_in_the_top_three(
    client: TestClient, demo_runtime: Runtime, slice_: str, query: str, expected: str
) -> None:
    matches = client.post("/v1/match", json={"text": query, "limit": 3}).json()["matches"]
    assert expected in _external_ids(demo_runtime, [m["platform_id"] for m in matches])


def test_evidence_quotes_the_profile_and_the_shared_terms(client: TestClient) -> None:
    matches = client.post("/v1/match", json={"text": "钙钛矿光伏组件中试线稳定性验证", "limit": 3}).json()[
        "matches"
    ]
    m = next(m for m in matches if "钙钛矿" in m["name"])
    assert "钙钛矿" in m["evidence"]["passage"]
    assert "钙钛矿" in m["evidence"]["terms"]


def test_reverse_direction_finds_demo_technologies(client: TestClient, demo_runtime: Runtime) -> None:
    """A demo technology written to fit a platform shows up among that platform's technologies."""
    from sqlmodel import select

    from matcher.platforms.models import Platform

    with demo_runtime.session() as s:
        pid = s.exec(select(Platform.id).where(Platform.external_id == "ef-p050")).one()
    techs = client.get(f"/v1/platforms/{pid}/technologies", params={"limit": 5}).json()["technologies"]
    assert any("PET" in (t["title"] or "") + t["summary"] for t in techs)


def test_traditional_chinese_meets_simplified_profiles(client: TestClient, demo_runtime: Runtime) -> None:
    simplified = client.post("/v1/match", json={"text": "钙钛矿光伏组件中试线稳定性验证", "limit": 5}).json()
    traditional = client.post("/v1/match", json={"text": "鈣鈦礦光伏組件中試線穩定性驗證", "limit": 5}).json()
    assert [m["platform_id"] for m in traditional["matches"]] == [
        m["platform_id"] for m in simplified["matches"]
    ]
    full_width = client.post(
        "/v1/match", json={"text": "ＳｉＣ　ＭＯＳＦＥＴ功率模块可靠性试验", "limit": 3}
    ).json()
    assert "sic" in full_width["matches"][0]["evidence"]["terms"]


def test_inferred_directions_are_shown_and_explicit_ones_win(client: TestClient) -> None:
    body = client.post("/v1/match", json={"text": "质子交换膜电解水制氢电堆的耐久性测试"}).json()
    codes = [d["code"] for d in body["inferred_directions"]]
    assert codes[0] == "hydrogen"
    assert all(0 < d["confidence"] <= 1 and d["name_zh"] for d in body["inferred_directions"])
    chosen = client.post(
        "/v1/match", json={"text": "质子交换膜电解水制氢电堆的耐久性测试", "directions": ["steel"]}
    ).json()
    assert chosen["inferred_directions"] == []
    assert all(
        m["explanation"]["sector_fit"] == 0 or "steel" in m["directions"] or m["area"] == "raw_materials"
        for m in chosen["matches"]
    )
