"""Any local sentence-transformers model directory, run by torch (so a deployment can plug in a larger model)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from matcher.matching.embedders.base import dir_fingerprint, unit_rows


class SentenceTransformerEmbedder:
    """Any local sentence-transformers model directory (loaded offline)."""

    calibration = (0.45, 10.0)

    def __init__(self, path: Path, model_id: str | None = None, threads: int = 2) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(max(1, min(threads, os.cpu_count() or 1)))
        if not path.is_dir():
            raise ValueError(f"embedding model directory {path} does not exist")
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.dim = int(self._model.get_embedding_dimension() or 0)
        self.model_id = model_id or f"st:{path.resolve().name}:{dir_fingerprint(path)}"

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.embed_passages(texts)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return unit_rows(self._model.encode(list(texts), batch_size=64, normalize_embeddings=True))
