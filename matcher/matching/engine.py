"""The match engine: the one front matching goes through.

It owns the in-memory corpora (platforms and technologies: documents, FAISS and BM25 indexes), the models that
embed text, and the scoring. A match never touches the database; the database stays the source of truth and
``matcher.indexing`` applies its rows here after each commit. The parts live in modules named for what they hold:
``query`` and ``results`` (the shapes in and out), ``vectors`` (embedding), ``corpus`` (documents and indexes),
``candidates`` and ``search`` (finding and fusing candidates), ``completions`` and ``reverse`` (the technology
side), ``writes`` and ``snapshots``.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from pathlib import Path

from matcher.matching.calibration import QueryShape, load_calibration
from matcher.matching.completions import Completions
from matcher.matching.corpus import Corpora
from matcher.matching.directions import DirectionInferrer
from matcher.matching.embedders import Embedder
from matcher.matching.fusion import Fusion, LanguageAwareFusion
from matcher.matching.lexicon import BilingualLexicon
from matcher.matching.query import MatchQuery, QueryTerms, QueryVector
from matcher.matching.ranking import Ranker
from matcher.matching.results import (
    Evidence,
    FitScale,
    MatchResult,
    NamedDirection,
    PlatformMatch,
    TechnologyMatches,
)
from matcher.matching.reverse import ReverseMatch
from matcher.matching.search import CandidateSearch
from matcher.matching.snapshots import IndexManifest, Snapshots
from matcher.matching.text import surface_forms
from matcher.matching.vectors import Vectoriser
from matcher.matching.writes import CorpusWrites
from matcher.observability import MATCH_SECONDS
from matcher.settings import Settings
from matcher.taxonomy import Taxonomy

log = logging.getLogger("pilotmatch.engine")


class MatchEngine:
    """Embeds, indexes and ranks. Thread-safe: readers take no lock; writers (``matcher.indexing``) hold
    ``write_lock`` and apply a write only after the database commit that causes it."""

    def __init__(
        self,
        settings: Settings,
        taxonomy: Taxonomy,
        embedder: Embedder,
        fusion: Fusion | None = None,
        lexicon: BilingualLexicon | None = None,
        english: Embedder | None = None,
        origin: str | None = None,
    ) -> None:
        self.settings = settings
        #: Names this process in the change log: its own writes are in these indexes already, so its follower
        #: skips them.
        self.origin = origin or uuid.uuid4().hex
        self.taxonomy = taxonomy
        #: Translates query terms so BM25 also sees profiles written in the other language.
        self.lexicon = lexicon if lexicon is not None else BilingualLexicon()
        self.vectors = Vectoriser(embedder, english, self.lexicon)
        self.model_key = self.vectors.model_key
        self.fit = FitScale(settings.good_fit_score, settings.possible_fit_score)
        self.directions = DirectionInferrer(taxonomy, embedder)
        self.corpora = Corpora(
            embedder.dim, english.dim if english is not None else None, settings.dense_nprobe
        )
        self.search = CandidateSearch(
            self.corpora.platforms,
            settings,
            fusion or LanguageAwareFusion(settings.fusion, embedder.calibration),
            Ranker(settings.rank, taxonomy, calibration=load_calibration(self.model_key)),
            self.directions,
            self.lexicon,
        )
        self.completions = Completions(self.corpora, self.search, self.vectors, settings)
        self.writes = CorpusWrites(self.corpora, self.completions, self.directions)
        self.reverse = ReverseMatch(self.corpora, self.search, self.fit, settings.candidate_pool)
        self.snapshots = Snapshots(
            Path(settings.index_dir),
            self.corpora,
            self.model_key,
            settings.approximate_index_above,
            settings.dense_nprobe,
        )
        #: The change-log position the indexes include (kept by the runtime's follower; written into snapshots).
        self.log_position = 0
        self.ready = False
        #: What the last load did (reused / embedded / removed per corpus), for logs and health checks.
        self.load_stats: dict[str, int] = {}

    @property
    def fusion(self) -> Fusion:
        """How channel scores become one relevance (held by the search, used in both directions)."""
        return self.search.fusion

    @fusion.setter
    def fusion(self, fusion: Fusion) -> None:
        self.search.fusion = fusion

    @property
    def ranker(self) -> Ranker:
        """The ranking factors and calibration (held by the search, used in both directions)."""
        return self.search.ranker

    @ranker.setter
    def ranker(self, ranker: Ranker) -> None:
        self.search.ranker = ranker

    @property
    def write_lock(self) -> threading.RLock:
        return self.corpora.write_lock  # type: ignore[return-value]

    # Matching: one way in each direction.
    def match(self, query: MatchQuery) -> MatchResult:
        """Rank active platforms for a need: its text embedded (or its stored ``vector``), candidates from every
        channel, directions inferred unless chosen, each result explained and labelled with its fit."""
        vector = query.vector if query.vector is not None else self.vectors.query(query.text)
        terms = QueryTerms.of(query.text, self.lexicon)
        allowed = self._allowed(query)
        pool = max(self.settings.candidate_pool, query.limit * 3)
        # Platforms that said this need is not for them are out of its best score and verdict too; other
        # filters narrow what is shown, never what the need's best is read against.
        everywhere = (
            set(self.corpora.platforms.docs) - query.excluded_platform_ids
            if query.excluded_platform_ids
            else None
        )
        found = self.search.search(vector, query.text, terms, query.need, allowed, pool, everywhere)
        need = found.need
        ranked = self.search.ranked(need, found.fused, query.limit)
        # Unfiltered, the best candidate is the first ranked; filtered, it is the best of all candidates.
        best = (
            self.search.best(need, found.basis) if allowed is not None else ranked[0][0] if ranked else None
        )
        own_words = surface_forms(query.text)
        matches = []
        weak_left_out = False
        # The verdict reads the need's best (the first result unless a filter hides it), as the coverage report
        # reads the best score the outbox stored from the same call.
        shape = QueryShape.of(terms.lang, terms.tokens)
        best_score = (
            self.ranker.calibrated(best, None, shape) if allowed is not None and best is not None else None
        )
        for i, (_, relevance, doc, hit) in enumerate(ranked):
            result = self.ranker.score(need, doc.facts, relevance, best, shape)
            if i == 0 and allowed is None:
                best_score = result.score
            fit = self.fit.label(result.score)
            if fit == "weak" and i >= self.settings.weak_results_shown and not query.include_weak:
                weak_left_out = True
                break  # scores fall down the list: every later result is weak too
            matches.append(
                PlatformMatch(
                    platform_id=doc.id,
                    score=result.score,
                    fit=fit,
                    explanation=result.explanation,
                    card=doc.card,
                    stale=doc.facts.stale,
                    evidence=Evidence(
                        passage=doc.passages[min(hit.passage, len(doc.passages) - 1)],
                        terms=self.search.evidence_terms(own_words, terms, doc),
                    ),
                )
            )
        inferred = NamedDirection.named(self.taxonomy, need.inferred) if not need.directions else []
        unmet = best_score is None or best_score < self.settings.unmet_demand_score
        return MatchResult(matches, inferred, best_score, unmet, weak_left_out)

    def technologies_for(self, platform_id: int, limit: int = 10) -> TechnologyMatches:
        """The reverse direction: open technologies that fit a platform, scored as their forward matches score
        the same pair. Raises ``NotFound`` for a platform not indexed."""
        with MATCH_SECONDS.labels("reverse").time():
            return self.reverse.technologies_for(platform_id, limit)

    def embed_query(self, text: str) -> QueryVector:
        return self.vectors.query(text)

    def technology_vector(self, technology_id: int) -> QueryVector | None:
        """A stored technology's query vectors (None if it is not indexed)."""
        rows = self.corpora.technologies.vectors(technology_id)
        return self.vectors.split(rows[0]) if len(rows) else None

    def _allowed(self, query: MatchQuery) -> set[int] | None:
        if not query.filtered:
            return None
        tiers = set(query.tiers)
        docs = self.corpora.platforms.docs
        ids = docs.keys() if query.platform_ids is None else query.platform_ids & docs.keys()
        return {
            pid
            for pid in ids
            if (query.area is None or docs[pid].facts.area == query.area)
            and (not tiers or docs[pid].facts.tier in tiers)
            and pid not in query.excluded_platform_ids
            and (query.stale is None or docs[pid].facts.stale == query.stale)
        }

    # State: counts, snapshots and readiness.
    def count(self, corpus: str) -> int:
        """How many items a corpus ("platforms" or "technologies") holds."""
        return len(self.corpora[corpus])

    def indexed_ids(self, corpus: str) -> list[int]:
        return list(self.corpora[corpus].docs)

    def contains(self, corpus: str, item_id: int) -> bool:
        return item_id in self.corpora[corpus]

    def manifest(self, corpus: str) -> IndexManifest | None:
        return self.snapshots.manifest(corpus)

    def save(self) -> None:
        """Write each changed corpus's snapshot, recording the change-log position it includes."""
        self.snapshots.save(self.log_position)  # read first: the state written includes at least this much

    def load_snapshots(self) -> int | None:
        """The fast start: load both snapshots as they are and return the change-log position they include
        (the caller replays the log after it). None if either is missing or unusable."""
        with self.write_lock:
            manifests = [self.snapshots.read(c) for c in self.corpora]
            if any(m is None for m in manifests):
                return None
            self.completions.complete_stale()
        return min(m.log_position for m in manifests if m is not None)

    def read_snapshot(self, corpus: str) -> None:
        """Load one corpus's snapshot as it is, or start it empty when there is none usable (the reconcile in
        ``matcher.indexing`` then brings it in step with the rows)."""
        with self.write_lock:
            self.snapshots.read(self.corpora[corpus])

    def clear_snapshots(self) -> None:
        self.snapshots.clear()

    def loaded(self, stats: dict[str, int], started: float) -> None:
        """Mark the engine ready once its indexes are in step; build the lexical indexes now rather than at the
        first query."""
        for c in self.corpora:
            c.lexical.search([], 1)
        self.ready = True
        self.load_stats = stats
        log.info(
            "event=index_loaded seconds=%.2f %s",
            time.perf_counter() - started,
            " ".join(f"{k}={v}" for k, v in stats.items()),
        )
