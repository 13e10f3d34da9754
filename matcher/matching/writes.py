"""Applying documents to the corpora: what ``matcher.indexing`` calls, under the write lock, after the database
commit that causes the write."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

import numpy as np

from matcher.matching.completions import Completions
from matcher.matching.corpus import Corpora
from matcher.matching.directions import DirectionInferrer
from matcher.matching.documents import PlatformDoc, TechnologyDoc


class CorpusWrites:
    """Adds, updates and removes documents; a platform that lists no directions gets inferred ones, and a
    technology is completed against the platforms indexed."""

    def __init__(self, corpora: Corpora, completions: Completions, directions: DirectionInferrer) -> None:
        self.corpora = corpora
        self.completions = completions
        self.directions = directions

    def needs_embedding(self, doc: PlatformDoc | TechnologyDoc, corpus: str) -> bool:
        """Whether ``doc``'s text (and models) differ from what is indexed under its id."""
        old = self.corpora[corpus].docs.get(doc.id)
        return old is None or old.content_hash != doc.content_hash

    def store_platforms(self, docs: Sequence[PlatformDoc], vectors: Sequence[np.ndarray]) -> None:
        """Add or replace active platforms (``remove_platforms`` for the rest)."""
        docs = [self._with_inferred_directions(d, v) for d, v in zip(docs, vectors, strict=True)]
        self.corpora.platforms.store(docs, vectors)

    def update_platform_facts(self, doc: PlatformDoc) -> None:
        """A profile change that leaves its text alone (tier, province, ...) needs no re-embedding."""
        c = self.corpora.platforms
        if doc.id in c.docs:
            dim = self.directions.matrix.shape[1]
            c.docs[doc.id] = self._with_inferred_directions(doc, c.dense.vectors(doc.id)[:, :dim])
            c.changed()

    def remove_platforms(self, ids: Iterable[int]) -> None:
        self.corpora.platforms.remove(ids)

    def store_technologies(self, docs: Sequence[TechnologyDoc], vectors: Sequence[np.ndarray]) -> None:
        docs = [
            self.completions.completed(d, v[0]) if len(v) else d for d, v in zip(docs, vectors, strict=True)
        ]
        self.corpora.technologies.store(docs, vectors)

    def update_technology_facts(self, doc: TechnologyDoc) -> None:
        """A technology change that leaves its text alone (TRL, directions, status) needs no re-embedding; its
        completion is kept when nothing it depends on changed (``Completions.kept``)."""
        c = self.corpora.technologies
        old = c.docs.get(doc.id)
        kept = self.completions.kept(doc)
        if kept is not None:
            c.docs[doc.id] = kept
            if old is not None and old.card != doc.card:
                c.dirty = True
            return
        vectors = c.vectors(doc.id)
        if old is not None and len(vectors):
            c.docs[doc.id] = self.completions.completed(doc, vectors[0])
            c.changed()

    def remove_technologies(self, ids: Iterable[int]) -> None:
        self.corpora.technologies.remove(ids)

    def _with_inferred_directions(self, doc: PlatformDoc, vectors: np.ndarray) -> PlatformDoc:
        """A profile that lists no directions gets inferred ones (for sector fit and priority)."""
        if doc.facts.directions or len(vectors) == 0:
            return doc
        dim = self.directions.matrix.shape[1]
        inferred = self.directions.infer_passages(vectors[:, :dim], "\n".join(doc.passages))
        return replace(
            doc, facts=replace(doc.facts, inferred=tuple((d.code, d.confidence) for d in inferred))
        )
