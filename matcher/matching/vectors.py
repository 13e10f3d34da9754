"""Turning text into vectors: queries, profile passages and technologies, with one or two models.

The multilingual model reads every text. An optional English-only model adds its opinion of mostly-English texts
and of Chinese profile passages through their word-by-word English gloss (``BilingualLexicon.gloss``); it never
embeds Chinese text as it is (an English-only model puts all Chinese text in one corner, which would read as
similarity).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from matcher.matching.documents import PlatformDoc, TechnologyDoc
from matcher.matching.embedders import Embedder
from matcher.matching.lexicon import BilingualLexicon
from matcher.matching.query import QueryVector
from matcher.matching.text import is_mostly_english
from matcher.observability import MATCH_SECONDS

Progress = Callable[[int, int], None]
BATCH = 256


class Vectoriser:
    """Embeds queries and documents. Document rows are laid out as the corpora store them: the multilingual
    model's vector, then (English channel on) the English model's, zeros where it has no opinion."""

    def __init__(self, embedder: Embedder, english: Embedder | None, lexicon: BilingualLexicon) -> None:
        self.embedder = embedder
        #: An English-only model for mostly-English texts; None turns that channel off.
        self.english = english
        self.lexicon = lexicon
        #: Names every model the vectors come from: documents' content hashes, snapshots and calibration.
        self.model_key = embedder.model_id + (f"+{english.model_id}" if english is not None else "")

    @property
    def dim(self) -> int:
        return self.embedder.dim

    def query(self, text: str) -> QueryVector:
        """A normalised query's vectors."""
        with MATCH_SECONDS.labels("embed").time():
            main = self.embedder.embed_queries([text])[0]
        if self.english is None:
            return QueryVector(main)
        with MATCH_SECONDS.labels("embed_english").time():
            english = self._english_rows([text], self.english.embed_queries)[0]
        return QueryVector(main, english if english.any() else None)

    def split(self, row: np.ndarray) -> QueryVector:
        """A stored row (``store`` layout) as a query's vectors."""
        dim = self.embedder.dim
        english = row[dim:] if len(row) > dim else None
        return QueryVector(row[:dim], english if english is not None and english.any() else None)

    def platform_docs(
        self, docs: Sequence[PlatformDoc], progress: Progress | None = None
    ) -> list[np.ndarray]:
        """Passage rows per doc, embedded in large batches (embedding is the floor of every import)."""
        flat = [p for d in docs for p in d.passages]
        vecs = self._batched(flat, self.embedder.embed_passages, progress)
        if self.english is not None:
            vecs = np.hstack([vecs, self._english_rows(flat, self.english.embed_passages, gloss=True)])
        out, start = [], 0
        for d in docs:
            out.append(vecs[start : start + len(d.passages)])
            start += len(d.passages)
        return out

    def technology_docs(
        self, docs: Sequence[TechnologyDoc], progress: Progress | None = None
    ) -> list[np.ndarray]:
        """One row per technology: its text embedded as a query (it is one, in the forward direction)."""
        texts = [d.text for d in docs]
        vecs = self._batched(texts, self.embedder.embed_queries, progress)
        if self.english is not None:
            vecs = np.hstack([vecs, self._english_rows(texts, self.english.embed_queries)])
        return [vecs[i : i + 1] for i in range(len(docs))]

    def _english_rows(
        self, texts: list[str], fn: Callable[[list[str]], np.ndarray], *, gloss: bool = False
    ) -> np.ndarray:
        """The English model's vectors of the mostly-English texts; the others get zero rows or, with ``gloss``
        (profile passages), the vectors of their English glosses, so an English summary gets the English
        model's opinion of a Chinese profile too."""
        assert self.english is not None
        rows = np.zeros((len(texts), self.english.dim), dtype=np.float32)
        chosen: list[tuple[int, str]] = []
        for i, t in enumerate(texts):
            if is_mostly_english(t):
                chosen.append((i, t))
            elif gloss and (g := self.lexicon.gloss(t)):
                chosen.append((i, g))
        for start in range(0, len(chosen), BATCH):
            part = chosen[start : start + BATCH]
            rows[[i for i, _ in part]] = fn([t for _, t in part])
        return rows

    def _batched(
        self, texts: list[str], fn: Callable[[list[str]], np.ndarray], progress: Progress | None
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        parts = []
        for i in range(0, len(texts), BATCH):
            parts.append(fn(texts[i : i + BATCH]))
            if progress:
                progress(min(i + BATCH, len(texts)), len(texts))
        return np.vstack(parts)
