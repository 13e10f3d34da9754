"""What every embedder is: the protocol, and the helpers the backends share."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit vectors. Queries and passages may be embedded differently (e5 prefixes)."""

    #: Stable identity written into index manifests; an index built by another model is never reused.
    model_id: str
    dim: int
    #: (midpoint, slope) of the logistic that maps this model's cosine similarity to relevance in [0, 1].
    calibration: tuple[float, float]

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


class OneAtATime:
    """An embedder that runs one call at a time per process.

    Each model already uses every core it is given (BLAS or torch threads); several request threads embedding at
    once would oversubscribe the cores, and these models slow down by an order of magnitude when threads spin
    against each other. Taking turns keeps each call at its single-caller speed (a query takes about 2 ms).
    """

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dim = inner.dim
        self.calibration = inner.calibration
        self._lock = threading.Lock()

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return self.inner.embed_queries(texts)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return self.inner.embed_passages(texts)


def dir_fingerprint(path: Path) -> str:
    """A short hash of a model directory's file names and sizes: another model in the same folder gets a new id."""
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(f"{f.relative_to(path)}:{f.stat().st_size}".encode())
    return h.hexdigest()[:12]


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pilotmatch"
