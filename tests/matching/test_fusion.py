"""The language-aware fusion: which model's opinion counts for which share of a pair (no model needed)."""

from __future__ import annotations

import pytest

from matcher.matching.fusion import ChannelScores, LanguageAwareFusion
from matcher.settings import FusionSettings

pytestmark = pytest.mark.backend_independent


def _fusion(**overrides: float) -> LanguageAwareFusion:
    return LanguageAwareFusion(FusionSettings(**overrides), calibration=(0.5, 6.0))


def test_an_english_query_reads_a_chinese_profile_half_through_its_glosses() -> None:
    f = _fusion()
    pair = ChannelScores(dense=0.5, lexical=0.0, overlap_zh=0.0, overlap_en=0.0, query_en=1.0, english=0.75)
    multilingual, english = f.dense_relevance(0.5), f.english_relevance(0.75)
    assert f.fuse(pair).semantic == pytest.approx(0.5 * multilingual + 0.5 * english)
    # Glossed reading off: the multilingual model alone.
    assert _fusion(gloss_weight=0.0).fuse(pair).semantic == pytest.approx(multilingual)


def test_an_english_pair_gives_the_english_model_its_english_share() -> None:
    f = _fusion(gloss_weight=0.0)
    pair = ChannelScores(dense=0.4, lexical=0.0, overlap_zh=0.0, overlap_en=0.8, query_en=1.0, english=0.6)
    expected = 0.6 * f.dense_relevance(0.4) + 0.4 * f.english_relevance(0.6)
    assert f.fuse(pair).semantic == pytest.approx(expected)


def test_a_chinese_query_has_no_english_opinion() -> None:
    f = _fusion()
    pair = ChannelScores(dense=0.55, lexical=0.0, overlap_zh=0.9, overlap_en=0.0, query_zh=1.0)
    assert f.fuse(pair).semantic == pytest.approx(f.dense_relevance(0.55))


@pytest.mark.parametrize("overlap_en", [0.0, 0.3, 1.0])
def test_a_better_english_reading_never_lowers_relevance(overlap_en: float) -> None:
    f = _fusion()
    totals = [
        f.fuse(
            ChannelScores(
                dense=0.45,
                lexical=0.2,
                overlap_zh=0.0,
                overlap_en=overlap_en,
                query_en=1.0,
                translated=0.3,
                english=e,
            )
        ).total
        for e in (0.1, 0.3, 0.5, 0.7, 0.9)
    ]
    assert totals == sorted(totals)
