"""Inferring a text's likely industry directions, with a confidence.

Researchers rarely pick from 37 directions and many profiles list none, so sector fit and sector priority need
an estimate. Each direction is described in both languages in the taxonomy (names plus a description of its
processes and products); a text's directions are those whose descriptions it is most similar to (the embedder's
cosine, turned into a distribution with a softmax), sharpened by keyword evidence: a direction whose Chinese or
English name appears literally in the text gets extra weight. A user's explicit choice always wins over this.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matcher.matching.embedders import Embedder
from matcher.matching.text import normalize_text
from matcher.taxonomy import Taxonomy


@dataclass(frozen=True, slots=True)
class InferredDirection:
    code: str
    confidence: float


class DirectionInferrer:
    """Scores the 37 directions for a text; cheap (one 37 x dim product) once the text is embedded."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        embedder: Embedder,
        *,
        temperature: float = 0.04,
        keyword_bonus: float = 0.08,
        min_confidence: float = 0.15,
        top_k: int = 3,
    ) -> None:
        self.codes = list(taxonomy.directions)
        directions = [taxonomy.directions[c] for c in self.codes]
        texts = [
            normalize_text(f"{d.name_zh} {d.name_en}: {d.description_zh}; {d.description_en}")
            for d in directions
        ]
        self.matrix = embedder.embed_passages(texts)
        self.keywords = [
            tuple({k.lower() for k in (d.name_zh, d.name_en) if len(k) >= 2}) for d in directions
        ]
        self.temperature = temperature
        self.keyword_bonus = keyword_bonus
        self.min_confidence = min_confidence
        self.top_k = top_k

    def infer(self, vector: np.ndarray, text: str) -> list[InferredDirection]:
        """Directions with confidence >= ``min_confidence``, best first (at most ``top_k``)."""
        sims = self.matrix @ np.asarray(vector, dtype=np.float32).reshape(-1)
        lowered = normalize_text(text).lower()
        bonus = np.array(
            [self.keyword_bonus if any(k in lowered for k in kws) else 0.0 for kws in self.keywords],
            dtype=np.float32,
        )
        logits = (sims + bonus) / self.temperature
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        order = np.argsort(-probs)[: self.top_k]
        return [
            InferredDirection(self.codes[i], round(float(probs[i]), 4))
            for i in order
            if probs[i] >= self.min_confidence
        ]

    def infer_passages(self, vectors: np.ndarray, text: str) -> list[InferredDirection]:
        """For a multi-passage profile: the mean of its passage vectors stands for the whole text."""
        if len(vectors) == 0:
            return []
        mean = np.asarray(vectors, dtype=np.float32).mean(axis=0)
        norm = float(np.linalg.norm(mean)) or 1.0
        return self.infer(mean / norm, text)
