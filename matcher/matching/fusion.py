"""Fusing the dense and lexical channels into one relevance in [0, 1].

The lexical channel is strong when query and profile share a language and blind across languages, so the default
fusion (``LanguageAwareFusion``) lets lexical evidence only *add* to semantic relevance, in proportion to the
language overlap of query and profile ("noisy-or"): ``rel = d + w * overlap * l * (1 - d)``. A cross-language
profile is therefore judged purely semantically and never pulled down by a lexical zero; a same-language profile
that also shares the query's terms moves up. ``ReciprocalRankFusion`` and the single channels are kept as
swappable alternatives for ``scripts/evaluate.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from matcher.settings import FusionSettings


@dataclass(frozen=True, slots=True)
class ChannelScores:
    """What the channels said about one (query, item) pair."""

    dense: float  # best-passage cosine similarity
    lexical: float  # normalised BM25 in [0, 1]
    overlap: float  # language overlap of query and item in [0, 1]
    dense_rank: int | None = None
    lexical_rank: int | None = None


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
    """Score-based fusion: calibrated dense relevance, lifted by lexical evidence where languages overlap."""

    name = "language-aware"

    def __init__(self, settings: FusionSettings) -> None:
        self.s = settings

    def dense_relevance(self, cosine: float) -> float:
        lo, hi = self.s.dense_floor, self.s.dense_ceiling
        return min(1.0, max(0.0, (cosine - lo) / (hi - lo)))

    def lexical_relevance(self, lexical: float) -> float:
        return min(1.0, max(0.0, lexical / self.s.lexical_saturation))

    def fuse(self, s: ChannelScores) -> Relevance:
        d = self.dense_relevance(s.dense)
        lift = self.s.lexical_weight * s.overlap * self.lexical_relevance(s.lexical) * (1.0 - d)
        return Relevance(semantic=d, lexical=lift)


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


class ReciprocalRankFusion:
    """Plain RRF over the two channels' ranks (k=60), scaled to [0, 1]. Kept for comparison: it ignores language
    and, as measured, pulls cross-language results down."""

    name = "rrf"

    def __init__(self, k: int = 60) -> None:
        self.k = k

    def fuse(self, s: ChannelScores) -> Relevance:
        best = 2.0 / (self.k + 1)
        dense = 1.0 / (self.k + s.dense_rank + 1) if s.dense_rank is not None else 0.0
        lexical = 1.0 / (self.k + s.lexical_rank + 1) if s.lexical_rank is not None else 0.0
        return Relevance(semantic=dense / best, lexical=lexical / best)


def make_fusion(name: str, settings: FusionSettings) -> Fusion:
    fusions: dict[str, Fusion] = {
        "language-aware": LanguageAwareFusion(settings),
        "dense": DenseOnlyFusion(settings),
        "lexical": LexicalOnlyFusion(settings),
        "rrf": ReciprocalRankFusion(),
    }
    if name not in fusions:
        raise ValueError(f"unknown fusion {name!r}; choose from {', '.join(fusions)}")
    return fusions[name]
