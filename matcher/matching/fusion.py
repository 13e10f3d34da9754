"""Fusing the dense and lexical channels into one relevance in [0, 1].

The lexical channel is strong when query and profile share a language and blind across languages, so the default
fusion (``LanguageAwareFusion``) lets lexical evidence only *add* to semantic relevance ("noisy-or"):
``rel = d + ((w_zh * q_zh + w_en * q_en) * l + (1 - o_zh - o_en) * (w_t * t + w_x * d)) * (1 - d) * d^g``, where
``d`` is the multilingual model's relevance, blended with an English-only model's on the English-English share
``o_en`` of the pair (``w_e * o_en``, ``english_weight``) when that channel is on, and on the cross-language
share of an English query's pair with the English model reading the profile's word-by-word glosses
(``gloss_weight``). BM25
evidence ``l`` counts with a weight per query language (``q_zh``, ``q_en``); as far as query and profile do not
share a language (``o_zh``, ``o_en``), the translated terms' BM25 ``t`` counts and a share is imputed from the
dense channel. A cross-language
profile is therefore never pulled down by words it cannot share; a profile that shares the query's terms, in its
own words or in translation, moves up. ``ReciprocalRankFusion`` and the single channels are kept as
swappable alternatives for ``scripts/evaluate.py``.

Both dense channels score a profile by its best passage, and the best of many passages is higher by chance than
the best of one: a long, general profile would outrank a short specialist on the luck of its many draws. Fusion
therefore reads a best-passage cosine less ``passage_discount * ln(passages)`` (``FusionSettings``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from matcher.settings import FusionSettings


def passage_discount(per_log_passage: float, passages: int) -> float:
    """What a best-of-``passages`` cosine is discounted by, so profiles of different lengths compare fairly: the
    expected best of several draws grows with their number (a one-passage profile is not discounted)."""
    return per_log_passage * math.log(passages) if passages > 1 else 0.0


@dataclass(frozen=True, slots=True)
class ChannelScores:
    """What the channels said about one (query, item) pair."""

    dense: float  # best-passage cosine similarity
    lexical: float  # normalised BM25 in [0, 1]
    overlap_zh: float  # share of the pair that is Chinese on both sides, in [0, 1]
    overlap_en: float  # share of the pair that is English on both sides, in [0, 1]
    dense_rank: int | None = None
    lexical_rank: int | None = None
    #: Normalised BM25 of the query's terms translated into the other language (see ``lexicon``), in [0, 1].
    translated: float = 0.0
    translated_rank: int | None = None
    #: Share of the query that is Chinese / English (what BM25's matches can be in).
    query_zh: float = 0.0
    query_en: float = 0.0
    #: The English model's best-passage cosine, where query and profile both have mostly-English text.
    english: float | None = None
    #: How many passages of the profile the two best-passage cosines were chosen from.
    passages: int = 1

    def with_dense(self, dense: float, dense_rank: int | None) -> ChannelScores:
        """The same pair as another query vector's dense channel sees it (``dataclasses.replace`` is 5x slower,
        and feedback rescores a couple of hundred candidates per match)."""
        return ChannelScores(
            dense=dense,
            lexical=self.lexical,
            overlap_zh=self.overlap_zh,
            overlap_en=self.overlap_en,
            dense_rank=dense_rank,
            lexical_rank=self.lexical_rank,
            translated=self.translated,
            translated_rank=self.translated_rank,
            query_zh=self.query_zh,
            query_en=self.query_en,
            english=self.english,
            passages=self.passages,
        )


@dataclass(frozen=True, slots=True)
class Relevance:
    """Fused relevance in [0, 1], split into what each channel contributed."""

    semantic: float
    lexical: float

    @property
    def total(self) -> float:
        return self.semantic + self.lexical


class Fusion(Protocol):
    name: str

    def fuse(self, s: ChannelScores) -> Relevance: ...


class LanguageAwareFusion:
    """Score-based fusion: calibrated dense relevance, lifted by lexical evidence where languages overlap.

    Cosine similarities of different models live on different scales (multilingual-e5 puts unrelated texts at
    0.8, USE at 0.2), so each channel is first mapped to [0, 1] by a smooth monotonic curve: a logistic for the
    dense channel (per-model midpoint and slope) and ``1 - exp(-x / saturation)`` for BM25. Smooth curves keep
    the order of close candidates instead of tying them at a clip.
    """

    name = "language-aware"

    def __init__(self, settings: FusionSettings, calibration: tuple[float, float] = (0.5, 6.0)) -> None:
        self.s = settings
        self.midpoint = settings.dense_midpoint if settings.dense_midpoint is not None else calibration[0]
        self.slope = settings.dense_slope if settings.dense_slope is not None else calibration[1]

    def dense_relevance(self, cosine: float) -> float:
        return 1.0 / (1.0 + math.exp(-self.slope * (cosine - self.midpoint)))

    def lexical_relevance(self, lexical: float) -> float:
        return 1.0 - math.exp(-max(0.0, lexical) / self.s.lexical_saturation)

    def english_relevance(self, cosine: float) -> float:
        return 1.0 / (1.0 + math.exp(-self.s.english_slope * (cosine - self.s.english_midpoint)))

    def fuse(self, s: ChannelScores) -> Relevance:
        discount = passage_discount(self.s.passage_discount, s.passages)
        multilingual = self.dense_relevance(s.dense - discount)
        d = multilingual
        cross = max(0.0, 1.0 - s.overlap_zh - s.overlap_en)
        if s.english is not None:
            # Where both sides are English, an English-only model reads them better than a multilingual one
            # (measured: en→en NDCG@10 0.78 for MiniLM alone against 0.54 for USE); it takes over that share.
            # Where an English query meets Chinese text, the English model reads the profile's glosses and takes
            # ``gloss_weight`` of that share (MiniLM on glosses alone: en→zh 0.80 against USE's 0.67).
            share = self.s.english_weight * s.overlap_en + self.s.gloss_weight * s.query_en * cross
            if share > 0:
                d = (1.0 - share) * multilingual + share * self.english_relevance(s.english - discount)
        lexical = self.lexical_relevance(s.lexical)
        # BM25 is trusted per language (English word matches carry more than jieba words), and where the
        # languages differ it sees nothing, so its evidence is imputed from the dense channel instead of counted
        # as zero: a cross-language profile is neither lifted by words nor held back by their absence.
        w = self.s
        # Words match only where both texts have them, so BM25's match counts by the query's language: the English
        # name of a Chinese profile that matches an English query is full evidence, not discounted by the
        # profile being mostly Chinese.
        evidence = (w.lexical_weight_zh * s.query_zh + w.lexical_weight_en * s.query_en) * lexical
        # Across languages: the query's translated terms found in the profile, plus the imputed share.
        translated = 1.0 - math.exp(-max(0.0, s.translated) / w.translated_saturation)
        evidence += cross * (w.translated_weight * translated + w.cross_language_weight * multilingual)
        # The gate lets words lift a profile only as far as its meaning already fits (d ** gate), so a profile
        # that merely shares a few common words with the query cannot overtake one that fits in meaning.
        return Relevance(semantic=d, lexical=min(evidence, 1.0) * (1.0 - d) * d**w.lexical_gate)


class DenseOnlyFusion(LanguageAwareFusion):
    """Semantic similarity alone (the baseline ``scripts/evaluate.py`` compares against)."""

    name = "dense"

    def fuse(self, s: ChannelScores) -> Relevance:
        return Relevance(semantic=self.dense_relevance(s.dense), lexical=0.0)


class LexicalOnlyFusion(LanguageAwareFusion):
    """BM25 alone."""

    name = "lexical"

    def fuse(self, s: ChannelScores) -> Relevance:
        return Relevance(semantic=0.0, lexical=self.lexical_relevance(s.lexical))


class TranslatedOnlyFusion(LanguageAwareFusion):
    """BM25 of the query's terms translated through the bilingual lexicon, alone."""

    name = "translated"

    def fuse(self, s: ChannelScores) -> Relevance:
        return Relevance(semantic=0.0, lexical=self.lexical_relevance(s.translated))


class ReciprocalRankFusion:
    """Plain RRF over the channels' ranks (k=60), scaled to [0, 1]. Kept for comparison: it ignores language
    and, as measured, pulls cross-language results down."""

    name = "rrf"

    def __init__(self, k: int = 60) -> None:
        self.k = k

    def fuse(self, s: ChannelScores) -> Relevance:
        best = 3.0 / (self.k + 1)

        def rr(rank: int | None) -> float:
            return 1.0 / (self.k + rank + 1) if rank is not None else 0.0

        return Relevance(
            semantic=rr(s.dense_rank) / best, lexical=(rr(s.lexical_rank) + rr(s.translated_rank)) / best
        )


def make_fusion(name: str, settings: FusionSettings, calibration: tuple[float, float] = (0.5, 6.0)) -> Fusion:
    fusions: dict[str, Fusion] = {
        "language-aware": LanguageAwareFusion(settings, calibration),
        "dense": DenseOnlyFusion(settings, calibration),
        "lexical": LexicalOnlyFusion(settings, calibration),
        "translated": TranslatedOnlyFusion(settings, calibration),
        "rrf": ReciprocalRankFusion(),
    }
    if name not in fusions:
        raise ValueError(f"unknown fusion {name!r}; choose from {', '.join(fusions)}")
    return fusions[name]
