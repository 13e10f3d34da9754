"""The indexed collections: per corpus, its documents, its FAISS indexes and its BM25 index, under one lock.

Matching reads them; ``matcher.indexing`` writes them (after the database commit that causes the write) while
holding ``Corpora.write_lock``. A document and its vectors always change together.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from matcher.matching.dense import DenseIndex
from matcher.matching.documents import PlatformDoc, TechnologyDoc
from matcher.matching.lexical import LexicalIndex

PLATFORMS = "platforms"
TECHNOLOGIES = "technologies"


@dataclass
class Corpus:
    """One indexed collection (platforms or technologies)."""

    name: str
    dense: DenseIndex
    #: The English model's vectors, one row per passage so passage numbers line up with ``dense``: a mostly-English
    #: passage's own, a platform's Chinese passage's gloss, zeros for a passage it cannot read (a technology's
    #: Chinese text; items without any row are left out); None when the English channel is off.
    english: DenseIndex | None = None
    lexical: LexicalIndex = field(default_factory=LexicalIndex)
    docs: dict = field(default_factory=dict)
    dirty: bool = False
    #: Bumped by every change to ``docs`` in this process (what a cached fingerprint of the corpus is keyed by).
    version: int = 0
    #: The snapshot generation that matches memory (written or loaded by this process), if any.
    generation: str = ""

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.docs

    def __len__(self) -> int:
        return len(self.docs)

    def changed(self) -> None:
        self.dirty = True
        self.version += 1

    def store(self, docs: Sequence[PlatformDoc | TechnologyDoc], vectors: Sequence[np.ndarray]) -> None:
        """Add or replace items: their rows (laid out as ``Vectoriser.embed_*_docs`` makes them: the multilingual
        part, then the English part when that channel is on), tokens and documents."""
        dim = self.dense.dim
        items = [(d.id, v) for d, v in zip(docs, vectors, strict=True)]
        self.dense.upsert_many((i, v[:, :dim]) for i, v in items)
        if self.english is not None:
            english = [(i, v[:, dim:]) for i, v in items if v.shape[1] > dim and v[:, dim:].any()]
            self.english.remove([i for i, _ in items if i in self.english])
            self.english.upsert_many(english)
        self.lexical.upsert_many((d.id, list(d.tokens)) for d in docs)
        for d in docs:
            self.docs[d.id] = d
        self.changed()

    def remove(self, ids: Iterable[int]) -> None:
        ids = list(ids)
        self.dense.remove(ids)
        if self.english is not None:
            self.english.remove(ids)
        self.lexical.remove(ids)
        for i in ids:
            self.docs.pop(i, None)
        self.changed()

    def vectors(self, item_id: int) -> np.ndarray:
        """An item's stored rows in the ``store`` layout (the English part is zeros where absent; empty if the
        item is not indexed)."""
        main = self.dense.vectors(item_id)
        if self.english is None or len(main) == 0:
            return main
        english = self.english.vectors(item_id)
        if len(english) != len(main):
            english = np.zeros((len(main), self.english.dim), dtype=np.float32)
        return np.hstack([main, english])

    def english_vectors(self, item_id: int) -> np.ndarray | None:
        """An item's English-model rows, or None when the English channel is off."""
        return self.english.vectors(item_id) if self.english is not None else None


class Corpora:
    """Both corpora and the lock their writers hold. Readers take no lock: each index guards its own state."""

    def __init__(self, dim: int, english_dim: int | None, nprobe: int) -> None:
        self._dims = (dim, english_dim, nprobe)
        self.platforms = Corpus(PLATFORMS, *self.empty_indexes())
        self.technologies = Corpus(TECHNOLOGIES, *self.empty_indexes())
        #: Writers (``matcher.indexing``, snapshots) hold it; re-entrant, so a writer may call another.
        self.write_lock = threading.RLock()

    def empty_indexes(self) -> tuple[DenseIndex, DenseIndex | None]:
        dim, english_dim, nprobe = self._dims
        english = DenseIndex(english_dim, nprobe=nprobe, storage="fp16") if english_dim is not None else None
        return DenseIndex(dim, nprobe=nprobe), english

    def __getitem__(self, name: str) -> Corpus:
        if name == PLATFORMS:
            return self.platforms
        if name == TECHNOLOGIES:
            return self.technologies
        raise KeyError(name)

    def __iter__(self) -> Iterator[Corpus]:
        return iter((self.platforms, self.technologies))

    def clear(self, c: Corpus) -> None:
        """Empty one corpus (before loading a snapshot into it or rebuilding it)."""
        c.docs.clear()
        c.version += 1
        c.dense, c.english = self.empty_indexes()
        c.lexical = LexicalIndex()
