"""A stored technology's completion: what its matches depend on besides its own text and facts.

A technology is matched against the platforms both ways: forward (its matches) and reverse (a platform's
"technologies that fit"). Both must score a pair the same, so each indexed technology keeps what its forward
match worked out: its inferred directions, its best raw score (calibration reads a pair against it) and its query
vector as feedback moved it. These depend on the platforms indexed and the feedback settings; a completion made
under another ``key`` is stale and is worked out again, so a technology scores the same in every process and
after a rebuild.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np

from matcher.matching.corpus import Corpora
from matcher.matching.documents import TechnologyDoc
from matcher.matching.query import QueryTerms
from matcher.matching.search import CandidateSearch
from matcher.matching.vectors import Vectoriser
from matcher.settings import Settings

Key = tuple[float, int, int, str]


class Completions:
    """Works out and keeps technologies' completions against the platforms indexed."""

    def __init__(
        self, corpora: Corpora, search: CandidateSearch, vectors: Vectoriser, settings: Settings
    ) -> None:
        self.corpora = corpora
        self.search = search
        self.vectors = vectors
        self.settings = settings
        self._fingerprint: tuple[int, str] | None = None

    @property
    def key(self) -> Key:
        """What a completion depends on: the feedback settings (all three: the word limit decides whether a short
        English summary is moved at all) and the platforms indexed."""
        s = self.settings
        return (s.expansion_weight, s.expansion_depth, s.expansion_english_words, self.platform_fingerprint())

    def platform_fingerprint(self) -> str:
        """A digest of every indexed platform's id, text and facts (cached until the platform corpus changes)."""
        c = self.corpora.platforms
        cached = self._fingerprint
        if cached is not None and cached[0] == c.version:
            return cached[1]
        digest = hashlib.blake2b(digest_size=16)
        for item_id in sorted(c.docs):
            doc = c.docs[item_id]
            digest.update(f"{item_id}\x1f{doc.content_hash}\x1f{doc.facts!r}\x1e".encode())
        value = digest.hexdigest()
        self._fingerprint = (c.version, value)
        return value

    def completed(self, doc: TechnologyDoc, row: np.ndarray) -> TechnologyDoc:
        """A technology with its inferred directions, its best raw score and its moved query vector against the
        platforms now indexed (``row``: its stored vector row)."""
        found = self.search.search(
            self.vectors.split(row), doc.text, QueryTerms.of(doc.text, self.search.lexicon), doc.facts
        )
        return replace(
            doc,
            facts=found.need,
            best_raw=self.search.best(found.need, found.basis),
            expanded=found.vector.main if found.expanded else None,
            expansion=self.key,
        )

    def kept(self, doc: TechnologyDoc) -> TechnologyDoc | None:
        """``doc`` (a fact-only change of an indexed technology) with its old completion, when nothing that
        completion depends on changed (the same facts, platforms and feedback settings); None otherwise. So a
        start-up that finds every row as its snapshot holds it searches nothing."""
        old = self.corpora.technologies.docs.get(doc.id)
        if old is None or old.expansion != self.key or replace(old.facts, inferred=()) != doc.facts:
            return None
        return replace(
            doc, facts=old.facts, best_raw=old.best_raw, expanded=old.expanded, expansion=old.expansion
        )

    def stale(self) -> int:
        """How many indexed technologies were completed under another key than ``key``."""
        key = self.key
        return sum(1 for d in self.corpora.technologies.docs.values() if d.expansion != key)

    def complete_stale(self, limit: int | None = None) -> int:
        """Work out again up to ``limit`` (all when None) stale completions; returns how many.

        Callers hold the write lock. The follower thread calls this in small batches after platform changes, so
        the lock is never held for long; ``pilotmatch reindex`` and start-up complete everything at once.
        """
        c = self.corpora.technologies
        key = self.key
        done = 0
        for doc in [d for d in c.docs.values() if d.expansion != key]:
            if limit is not None and done >= limit:
                break
            vectors = c.vectors(doc.id)
            fresh = replace(doc, facts=replace(doc.facts, inferred=()))
            c.docs[doc.id] = (
                self.completed(fresh, vectors[0]) if len(vectors) else replace(doc, expansion=key)
            )
            c.changed()
            done += 1
        return done
