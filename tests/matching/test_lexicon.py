"""The bilingual lexicon that lets BM25 match across languages, and English stemming."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from matcher.matching.lexical import LexicalIndex
from matcher.matching.lexicon import BilingualLexicon, build_lexicon, load_lexicon
from matcher.matching.text import glossary_terms, lexical_tokens, surface_forms

#: The lexicon and the evidence it gives do not depend on the database backend: these run once, on SQLite.
pytestmark = pytest.mark.backend_independent


def test_english_words_are_stemmed_so_inflections_meet() -> None:
    assert lexical_tokens("electrolysers")[0] == lexical_tokens("electrolyser")[0]
    assert lexical_tokens("Batteries recycling") == lexical_tokens("battery recycled")
    assert surface_forms("PEM Electrolysers")[lexical_tokens("electrolysers")[0]] == "electrolysers"


def test_glossary_terms_are_single_tokens() -> None:
    assert "质子交换膜" in glossary_terms()
    assert "质子交换膜" in lexical_tokens("质子交换膜电解槽中试")


def test_build_lexicon_translates_phrases_longest_first_and_both_ways() -> None:
    lexicon = build_lexicon("燃料电池\tfuel cell\n电池\tbattery; cell\n催化剂\tcatalyst\n")
    groups = lexicon.translate(lexical_tokens("fuel cell catalyst"))
    assert groups == [("燃料电池",), ("催化剂",)]
    assert lexicon.translate(["催化剂"]) == [(lexical_tokens("catalyst")[0],)]
    assert lexicon.translate(lexical_tokens("zebra")) == []


def test_a_translated_compound_is_earned_word_by_word() -> None:
    """钠离子电池 translates as one phrase, not as "sodium" or "ion" or "battery", and its parts 离子 and 电池 are
    not further terms: a profile that says only "battery" earns a share of the term, one with every word all of
    it."""
    lexicon = build_lexicon("钠离子电池\tsodium-ion battery\n电池\tbattery\n离子\tion\n")
    terms = lexicon.translate(lexical_tokens("钠离子电池"))
    assert terms == [(" ".join(lexical_tokens("sodium-ion battery")),)]
    index = LexicalIndex()
    index.upsert_many(
        [(1, lexical_tokens("sodium-ion battery cells")), (2, lexical_tokens("solid-state battery cells"))]
    )
    scores = index.score_items(terms, [1, 2])
    assert 0 < scores[2] < scores[1] / 2
    assert index.matched_terms(terms, 1) == list(terms[0]) and index.matched_terms(terms, 2) == []


def test_cedict_senses_are_read_and_cross_references_skipped() -> None:
    lines = [
        "催化劑 催化剂 [cui1 hua4 ji4] /catalyst/",
        "晶圓 晶圆 [jing1 yuan2] /wafer (silicon medium for integrated circuit)/",
        "這 这 [zhe4] /this/",
        "閘 闸 [zha2] /see 閘門|闸门/",
        "電解槽 电解槽 [dian4 jie3 cao2] /see 電解池|电解池[dian4 jie3 chi2]/",
    ]
    lexicon = build_lexicon("", lines)
    assert lexicon.translate(lexical_tokens("wafers")) == [("晶圆",)]
    assert "电解槽" not in lexicon.zh_to_en  # only a cross-reference
    assert "这" not in lexicon.zh_to_en  # single characters are not tokens


def test_the_shipped_lexicon_covers_the_domain_and_is_cached(tmp_path: Path) -> None:
    first_process: dict[str, BilingualLexicon] = {}  # nothing built yet
    lexicon = load_lexicon(tmp_path, memory=first_process)
    assert len(lexicon) > 100_000  # CC-CEDICT is installed with the package
    assert ("电解槽",) in lexicon.translate(lexical_tokens("PEM electrolyser"))
    assert ("抗体",) in lexicon.translate(lexical_tokens("antibody"))
    [pickled] = tmp_path.glob("lexicon.*.pickle")
    assert load_lexicon(tmp_path, memory=first_process) is lexicon  # the same process reuses it
    again = load_lexicon(tmp_path, memory={})  # the next process reads the pickle: the same lexicon
    assert again is not lexicon and again.zh_to_en == lexicon.zh_to_en and again.glosses == lexicon.glosses
    # ...read, not built again: a pickle of another lexicon under the same name is what it gets.
    with pickled.open("wb") as f:
        pickle.dump(build_lexicon("电解槽\telectrolyser\n"), f)
    assert len(load_lexicon(tmp_path, memory={})) == 2


def test_a_group_of_alternatives_counts_once() -> None:
    index = LexicalIndex()
    index.upsert_many([(1, ["电解槽", "中试"]), (2, ["燃料电池", "中试"]), (3, ["钢铁"])])
    one = index.score_items([("电解槽", "电解池", "电解")], [1, 2, 3])
    assert one[1] > 0 and one[2] == 0 and one[3] == 0
    # The best alternative counts: a group is worth as much as its best-matching token alone.
    assert abs(one[1] - index.score_items(["电解槽"], [1])[1]) < 1e-6
    assert index.search([("电解槽", "燃料电池")], 3)[0].item_id in (1, 2)
    assert index.matched_terms([("电解池", "电解槽"), "中试"], 1) == ["电解槽", "中试"]


def test_english_query_gets_evidence_from_a_chinese_profile_in_its_words(client: TestClient) -> None:
    text = "Our alkaline water electrolysis electrodes need a pilot electrolyser test for green hydrogen."
    matches = client.post("/v1/match", json={"text": text, "limit": 5}).json()["matches"]
    chinese = [m for m in matches if "电解" in m["name"]]
    assert chinese, [m["name"] for m in matches]
    assert any(t.startswith("电解") or t in ("绿氢", "碱性电解") for t in chinese[0]["evidence"]["terms"])


def test_gloss_reads_a_chinese_text_word_by_word() -> None:
    """Glossary first, then the first dictionary sense short enough to be a translation; English words and
    numbers as written; punctuation and words without a gloss left out."""
    cedict = [
        "驗證 验证 [yan4 zheng4] /to inspect and verify/experimental verification/",
        "鹼性 碱性 [jian3 xing4] /alkaline/",
        "電極 电极 [dian4 ji2] /electrode/",
        "電解槽 电解槽 [dian4 jie3 cao2] /electrolytic tank/",
    ]
    lexicon = build_lexicon("电解槽\telectrolyser; electrolytic cell\n", cedict)
    assert lexicon.glosses["电解槽"] == "electrolyser"
    assert lexicon.glosses["验证"] == "experimental verification"  # the first sense is too long
    assert (
        lexicon.gloss("电解槽的碱性电极验证，100 kW！")
        == "electrolyser alkaline electrode experimental verification 100 kW"
    )


def test_the_shipped_lexicon_glosses_a_profile_in_english() -> None:
    gloss = load_lexicon().gloss("锂电正极材料烧结中试线，配备辊道窑")
    assert "cathode" in gloss and "sinter" in gloss and "pilot" in gloss
