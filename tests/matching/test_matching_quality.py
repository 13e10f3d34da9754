"""Matching works in Chinese, in English and across the two, on the demo platforms with the real model."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from matcher import MatchEngine, Runtime

#: Ranking quality does not depend on the database backend: these run once, on SQLite.
pytestmark = pytest.mark.backend_independent


def _external_ids(rt: Runtime, ids: list[int]) -> list[str]:
    from matcher.platforms.models import Platform

    with rt.session() as s:
        return [s.get(Platform, i).external_id for i in ids]  # type: ignore[union-attr]


def _first(rt: Runtime, summary: str) -> str:
    """The external id of the platform a summary's match puts first (normalised and embedded as the API does)."""
    from matcher import MatchQuery

    return _external_ids(
        rt, [rt.engine.match(MatchQuery.of(rt.taxonomy, summary, limit=3)).matches[0].platform_id]
    )[0]


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
    techs = client.get(f"/v1/platforms/{pid}/technologies", params={"limit": 5}).json()["matches"]
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


GROUP = ("ef-p024", "ef-p025", "ef-p026")  # cathode synthesis, cell assembly/formation, recycling


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("新型高镍正极材料前驱体共沉淀和烧结工艺放大，需要百公斤级粉体中试", "ef-p024"),
        ("软包电池的叠片、注液、化成分容工艺验证，小批量试制电芯", "ef-p025"),
        ("从废旧锂电池黑粉中湿法浸出回收镍钴锂，需要萃取除杂工艺放大", "ef-p026"),
    ],
)
def test_near_duplicates_are_ordered_by_process_fit(
    client: TestClient, demo_runtime: Runtime, query: str, expected: str
) -> None:
    matches = client.post("/v1/match", json={"text": query, "limit": 30}).json()["matches"]
    order = [e for e in _external_ids(demo_runtime, [m["platform_id"] for m in matches]) if e in GROUP]
    assert order and order[0] == expected


def test_long_profile_matches_on_its_best_passage(small_client: TestClient) -> None:
    from tests.conftest import AUTH

    paragraphs = [
        "中心成立于2012年，由地方政府与三所高校共建，现有研发与工程人员二百余人，累计服务企业一千余家，"
        "建有综合办公楼、会议中心和人才公寓，面向长三角地区的中小企业提供技术转移、知识产权与投融资对接服务。",
        "食品板块建有果蔬汁低温浓缩、冻干和无菌灌装中试线，可开展功能饮料配方放大与货架期试验，"
        "配套微生物检测实验室，年完成食品企业中试项目三十余项。",
        "纺织板块拥有熔喷与纺粘非织造布中试线和功能整理设备，可开展抗菌、阻燃、防水透湿面料的工艺验证，"
        "并提供服装舒适性与耐洗性能测试。",
        "我们拥有国内少见的大尺寸蓝宝石晶体泡生法生长炉和晶棒切磨抛产线，可开展蓝宝石衬底的长晶工艺、"
        "定向切割、研磨抛光和表面缺陷检测验证，服务LED与消费电子盖板企业。",
        "机械板块提供数控加工、钣金和注塑试制，可为智能硬件企业完成外观样机和小批量结构件制造。",
    ]
    body = {
        "name": "综合产业创新服务中心",
        "tier": "reserve",
        "area": "common_needs",
        "capabilities": "\n".join(paragraphs),
    }
    pid = small_client.post("/v1/platforms", json=body, headers=AUTH).json()["id"]
    m = small_client.post(
        "/v1/match", json={"text": "蓝宝石晶体生长与衬底切磨抛工艺验证", "limit": 3}
    ).json()["matches"]
    assert m[0]["platform_id"] == pid
    assert "蓝宝石" in m[0]["evidence"]["passage"]
    assert len(m[0]["evidence"]["passage"]) < len(body["capabilities"]) / 2  # a passage, not the whole text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # Everyday words for "ADC conjugation scale-up in a high-containment suite".
        ("把能杀死肿瘤细胞的剧毒小分子挂到抗体上，想从克级做到百克级，需要能防护高毒物料的车间", "ci-p018"),
        # Everyday words for "mRNA in-vitro transcription and LNP formulation".
        ("我们的核酸疫苗要从实验室小管子里合成放大到十克级，还要包进脂质小颗粒里", "ci-p019"),
    ],
)
def test_paraphrased_needs_find_their_platform(
    client: TestClient, demo_runtime: Runtime, query: str, expected: str
) -> None:
    matches = client.post("/v1/match", json={"text": query, "limit": 3}).json()["matches"]
    assert expected in _external_ids(demo_runtime, [m["platform_id"] for m in matches])


# An English paraphrase from the dev set (ci-t032) that the multilingual model alone ranks below two food and
# fermentation plants; the English channel puts the personal-care formulation lab first.
SKIN_CREAM = (
    "From a kitchen-bench skin cream to tonne batches\n"
    "We are two chemists who created a barrier-repair moisturiser using a fermented rice extract; customers of "
    "our small online shop love it, but every jar is still mixed by hand in a 3 kg pot. Before signing with a "
    "retailer we need someone to show that the texture and look stay the same when it is made in very large "
    "kettles, that it does not separate or spoil over time, and to try it in pump bottles."
)


def test_english_channel_reads_english_pairs_and_glossed_chinese_profiles(
    demo_runtime: Runtime, demo_with: Callable[..., Runtime]
) -> None:
    from matcher import MatchQuery, QueryVector
    from matcher.matching.text import is_mostly_english, normalize_text

    engine = demo_runtime.engine
    assert engine.vectors.english is not None
    assert engine.embed_query("质子交换膜电解槽耐久性验证").english is None  # Chinese: never embedded
    text = normalize_text(SKIN_CREAM)
    vector = engine.embed_query(text)
    assert vector.english is not None
    with_english = {m.platform_id: m for m in engine.match(MatchQuery(text, limit=20, vector=vector)).matches}
    # The multilingual model alone, as it reads the query with the English channel on (feedback, which applies
    # where the multilingual model is the query's only dense opinion, would move this vector).
    no_feedback = demo_with(expansion_weight=0.0).engine
    alone_query = MatchQuery(text, limit=20, vector=QueryVector(vector.main))
    alone = {m.platform_id: m for m in no_feedback.match(alone_query).matches}
    ids = dict(zip(list(with_english), _external_ids(demo_runtime, list(with_english)), strict=True))
    assert ids[next(iter(with_english))] == "ci-p014"
    assert _external_ids(demo_runtime, [next(iter(alone))]) != ["ci-p014"]
    # A profile without an English passage is read by the English model through its glosses...
    chinese = [
        pid
        for pid in with_english
        if pid in alone and not any(is_mostly_english(p) for p in engine.corpora.platforms.docs[pid].passages)
    ]
    assert chinese and all(pid in engine.corpora.platforms.english for pid in chinese)
    assert any(
        with_english[pid].explanation["semantic"] != alone[pid].explanation["semantic"] for pid in chinese
    )


# An English summary from the dev set (ef-t010) whose ideal platform describes itself only in Chinese.
FUEL_CELL_COLD_START = (
    "Model-predictive cold-start strategy for PEM fuel cell stacks\n"
    "We designed a control strategy combining purge optimisation and self-heating current profiles so that an "
    "automotive fuel cell stack can start from -30 °C within 30 s without ice blockage. It has been verified in "
    "simulation and on a 5-cell short stack. The next step is testing on a full automotive stack in a climate "
    "chamber, plus durability checks after repeated freeze-start cycles."
)


def test_glossed_profiles_lift_an_english_summary_to_its_chinese_platform(
    demo_runtime: Runtime, demo_with: Callable[..., Runtime]
) -> None:
    """The English model reads the fuel-cell stack test platform's glosses ("fuel cell stack", "cryogenic cabin")
    and puts it first; without them, the PEM electrolyser stack line, whose English name shares "PEM" and "stack",
    wins."""
    assert _first(demo_runtime, FUEL_CELL_COLD_START) == "ef-p016"
    no_glosses = demo_with(fusion=demo_runtime.settings.fusion.model_copy(update={"gloss_weight": 0.0}))
    assert _first(no_glosses, FUEL_CELL_COLD_START) != "ef-p016"


# A Chinese paraphrase from the dev set (ef-t044): machine-vision inspection, without the words 机器视觉 or 质检.
DEFECT_CAMERA = (
    "让摄像头替工人“挑毛病”\n"
    "我们写了一套识别零件表面划痕、压伤和脏污的深度学习程序，拿手机拍的照片测试时准确率不错。可工厂说流水线上零件一直在动、反光又强，"
    "拍不清楚，也担心漏掉坏件或把好件扔掉。想找个有真实输送线的地方，把程序接上去连续跑一段时间，看看到底能不能替代人眼。"
)
# A Chinese need from the dev set (ci-t017) whose own words rank a petrochemical resin base first.
BIODEGRADABLE_BAG = (
    "高阻隔PBAT/PLA可降解快递袋\n课题组通过反应性增容和纳米片层填料，使PBAT/PLA共混膜的水蒸气透过率下降约40%，拉伸强度保持在"
    "20 MPa以上。目前只在实验室小型吹膜机上做过样品，膜厚不均。下一步需要完成造粒和吹膜的连续工艺验证，测试撕裂和耐热性能，"
    "并核实降解性能是否满足相关标准。"
)


def test_feedback_lifts_a_need_to_its_platform(
    demo_runtime: Runtime, demo_with: Callable[..., Runtime]
) -> None:
    """The best-ranked platforms describe the need in a profile's words; the query moved toward them finds the
    biodegradable-plastics processing platform, which the summary's own wording ranks below a petrochemical resin
    base (dev item ci-t017)."""
    assert _first(demo_runtime, BIODEGRADABLE_BAG) == "ci-p016"
    assert _first(demo_with(expansion_weight=0.0), BIODEGRADABLE_BAG) != "ci-p016"


def test_feedback_moves_chinese_queries_and_short_english_ones(
    demo_runtime: Runtime, demo_with: Callable[..., Runtime]
) -> None:
    import numpy as np

    from matcher import NeedFacts
    from matcher.matching.query import QueryTerms
    from matcher.matching.text import normalize_text

    engine = demo_runtime.engine

    def search(raw: str, engine: MatchEngine = engine):  # type: ignore[no-untyped-def]
        text = normalize_text(raw)
        vector = engine.embed_query(text)
        terms = QueryTerms.of(text, engine.lexicon)
        return vector, engine.search.search(vector, text, terms, NeedFacts())

    vector, found = search(DEFECT_CAMERA)
    assert found.expanded
    main, moved = vector.main, found.vector.main
    assert abs(float(np.linalg.norm(moved)) - 1.0) < 1e-5
    # Moved toward the profiles of its best-ranked platforms: closer to them than the query was.
    ranked = sorted(found.fused, key=lambda c: -engine.ranker.raw(found.need, c[1].facts, c[0]))
    top = engine.corpora.platforms.dense.vectors(ranked[0][1].id)
    assert float((top @ moved).max()) > float((top @ main).max())
    # An English summary has the English model's opinion too: it is left as it is.
    vector, found = search(SKIN_CREAM)
    assert not found.expanded and found.vector is vector
    # A few English words are where that model is least sure: moved, in the multilingual half only.
    vector, found = search("Scale-up of monoclonal antibody cell culture and purification")
    assert found.expanded
    assert np.array_equal(found.vector.english, vector.english)  # type: ignore[arg-type]
    assert not np.array_equal(found.vector.main, vector.main)
    # With feedback off, nothing moves.
    vector, found = search(DEFECT_CAMERA, demo_with(expansion_weight=0.0).engine)
    assert not found.expanded and found.vector is vector


def test_a_filter_narrows_the_results_without_changing_their_scores(client: TestClient) -> None:
    """Feedback, inferred directions and the best score come from the unfiltered candidates, so a platform
    scores the same with or without an area filter (a Chinese query: feedback applies)."""
    text = "退役动力电池湿法回收提锂工艺放大验证"
    every = client.post("/v1/match", json={"text": text, "limit": 60, "include_weak": True}).json()["matches"]
    scores = {m["platform_id"]: m["score"] for m in every}
    # An area other than the best platforms': feedback taken from the filtered candidates would differ.
    area = next(m["area"] for m in every if m["area"] != every[0]["area"])
    filtered = client.post(
        "/v1/match", json={"text": text, "limit": 5, "area": area, "include_weak": True}
    ).json()["matches"]
    assert filtered and all(m["area"] == area for m in filtered)
    assert [(m["platform_id"], m["score"]) for m in filtered] == [
        (m["platform_id"], scores[m["platform_id"]]) for m in filtered
    ]
    assert [m["platform_id"] for m in filtered] == [m["platform_id"] for m in every if m["area"] == area][:5]
