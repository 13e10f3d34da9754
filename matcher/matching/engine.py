"""The match engine: in-memory indexes of platforms and technologies, kept in step with the database.

It holds, per corpus, a FAISS ``DenseIndex`` of passage vectors, a BM25 ``LexicalIndex`` and the small facts
ranking needs, so a match never touches the database. The database stays the source of truth. Snapshots on disk
hold the index, the prepared documents and the change-log position they include: start-up loads them and replays
the log after that position (the fast path, no tokenising or embedding of unchanged rows), or, when the log no
longer reaches back that far, reconciles item by item against the rows (re-embedding only changed items). A
missing snapshot or one built by another model is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from matcher.errors import NotFound
from matcher.matching.calibration import load_calibration
from matcher.matching.dense import DenseHit, DenseIndex
from matcher.matching.directions import DirectionInferrer, vote_directions
from matcher.matching.documents import PlatformDoc, TechnologyDoc, platform_doc, technology_doc
from matcher.matching.embedders import Embedder, unit_rows
from matcher.matching.fusion import ChannelScores, Fusion, LanguageAwareFusion, Relevance
from matcher.matching.lexical import LexicalIndex, LexicalScores
from matcher.matching.lexicon import BilingualLexicon
from matcher.matching.ranking import NeedFacts, Ranker
from matcher.matching.text import (
    LanguageMix,
    is_mostly_english,
    language_mix,
    lexical_tokens,
    normalize_text,
    surface_forms,
)
from matcher.observability import MATCH_SECONDS
from matcher.platforms.models import Platform
from matcher.settings import Settings
from matcher.taxonomy import Taxonomy
from matcher.technologies.models import Technology

log = logging.getLogger("pilotmatch.engine")

#: 2: documents pickled beside the FAISS index under a generation name; the manifest records the log position.
#: 3: the BM25 main segment is saved with the documents.
#: 4: English tokens are stemmed and glossary terms are single tokens.
#: 5: a platform's mostly-Chinese passages have English-model rows too (of their glosses), stored as float16.
SNAPSHOT_FORMAT = 5
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class MatchQuery:
    """A technology need to match: its text plus preferences (soft) and filters (hard)."""

    text: str
    need: NeedFacts = field(default_factory=NeedFacts)
    area: str | None = None
    tiers: tuple[str, ...] = ()
    limit: int = 10


@dataclass(frozen=True, slots=True)
class QueryTerms:
    """What the lexical channels need of a query: its tokens, their translations and its language mix."""

    tokens: list[str]
    translated: list[tuple[str, ...]]
    lang: LanguageMix

    @classmethod
    def of(cls, text: str, lexicon: BilingualLexicon) -> QueryTerms:
        return cls.of_tokens(lexical_tokens(text), language_mix(text), lexicon)

    @classmethod
    def of_tokens(cls, tokens: list[str], lang: LanguageMix, lexicon: BilingualLexicon) -> QueryTerms:
        """For a text already tokenised (a stored technology)."""
        return cls(tokens, lexicon.translate(tokens), lang)


@dataclass(frozen=True, slots=True)
class _Lexical:
    """A query's BM25 scores over the platforms, in its own words and translated: worked out once per match and
    shared by its passes (the filtered and unfiltered one, before and after expansion)."""

    words: LexicalScores
    translations: LexicalScores | None


#: A candidate platform with every channel's scores, before fusion.
Channels = tuple[ChannelScores, PlatformDoc, DenseHit]
#: A candidate with its fused relevance.
Candidate = tuple[Relevance, PlatformDoc, DenseHit]
#: A ranked candidate: (raw score, relevance, document, best passage).
Ranked = tuple[float, Relevance, PlatformDoc, DenseHit]


@dataclass(frozen=True, slots=True)
class _Search:
    """What ranking a query needs from its candidate passes."""

    #: The query vector the candidates were scored with: expanded by feedback where that applies.
    qvec: np.ndarray
    #: The need, with directions inferred from the first pass unless the user chose some.
    need: NeedFacts
    #: Candidates within the query's filters, and all candidates (the same list when nothing is filtered): the
    #: best score and inferred directions must not depend on a filter.
    fused: list[Candidate]
    basis: list[Candidate]
    #: True when ``qvec`` was moved by pseudo-relevance feedback.
    expanded: bool


@dataclass(frozen=True, slots=True)
class Evidence:
    passage: str
    terms: list[str]


@dataclass(frozen=True, slots=True)
class PlatformMatch:
    platform_id: int
    score: float
    explanation: dict[str, float]
    card: dict
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class TechnologyMatch:
    technology_id: int
    score: float
    explanation: dict[str, float]
    card: dict
    evidence: Evidence


@dataclass
class IndexManifest:
    """What a snapshot on disk was built with; a snapshot whose model or format differs is never used."""

    corpus: str
    model: str
    dim: int
    count: int
    passages: int
    built_at: str
    format: int = SNAPSHOT_FORMAT
    #: Names the files of this snapshot (``<corpus>.<generation>.faiss`` and ``.docs.pickle``).
    generation: str = ""
    #: Every change-log entry up to here is in the snapshot; start-up replays the log after it.
    log_position: int = 0
    approximate: bool = False

    @classmethod
    def read(cls, path: Path) -> IndexManifest | None:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})
        except (OSError, ValueError, KeyError, TypeError):
            return None


@dataclass
class _Corpus:
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


class MatchEngine:
    """Embeds, indexes and ranks. Thread-safe; writes are applied after the database commit that causes them."""

    def __init__(
        self,
        settings: Settings,
        taxonomy: Taxonomy,
        embedder: Embedder,
        fusion: Fusion | None = None,
        lexicon: BilingualLexicon | None = None,
        english: Embedder | None = None,
    ) -> None:
        self.settings = settings
        self.taxonomy = taxonomy
        self.embedder = embedder
        #: An English-only model for mostly-English texts (see ``split``); None turns that channel off.
        self.english = english
        #: Names every model the vectors come from: documents' content hashes, snapshots and calibration.
        self.model_key = embedder.model_id + (f"+{english.model_id}" if english is not None else "")
        #: Translates query terms so BM25 also sees profiles written in the other language.
        self.lexicon = lexicon if lexicon is not None else BilingualLexicon()
        self.fusion: Fusion = fusion or LanguageAwareFusion(settings.fusion, embedder.calibration)
        self.ranker = Ranker(settings.rank, taxonomy, calibration=load_calibration(self.model_key))
        self.directions = DirectionInferrer(taxonomy, embedder)
        self.index_dir = Path(settings.index_dir)
        self.platforms = _Corpus("platforms", *self._empty_indexes())
        self.technologies = _Corpus("technologies", *self._empty_indexes())
        #: The change-log position the indexes include (kept by the runtime's follower; written into snapshots).
        self.log_position = 0
        self.write_lock = threading.RLock()
        self._fingerprint: tuple[int, str] | None = None
        self.ready = False
        #: What the last ``load`` did (reused / embedded / removed per corpus), for logs and health checks.
        self.load_stats: dict[str, int] = {}

    def _empty_indexes(self) -> tuple[DenseIndex, DenseIndex | None]:
        nprobe = self.settings.dense_nprobe
        english = (
            DenseIndex(self.english.dim, nprobe=nprobe, storage="fp16") if self.english is not None else None
        )
        return DenseIndex(self.embedder.dim, nprobe=nprobe), english

    # ---- vectors -------------------------------------------------------------------------------------------
    def embed_query(self, text: str) -> np.ndarray:
        """A normalised query's vector: the multilingual model's, followed by the English model's when the
        English channel is on (zeros unless the text is mostly English). ``split`` takes it apart."""
        with MATCH_SECONDS.labels("embed").time():
            main = self.embedder.embed_queries([text])[0]
        if self.english is None:
            return main
        with MATCH_SECONDS.labels("embed_english").time():
            return np.concatenate([main, self._english_rows([text], self.english.embed_queries)[0]])

    def split(self, vector: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(multilingual part, English part or None). A vector of the multilingual model alone is accepted too,
        so callers holding only that (older snapshots, tests) still match, without the English channel."""
        dim = self.embedder.dim
        english = vector[dim:] if len(vector) > dim else None
        return vector[:dim], english if english is not None and english.any() else None

    def _english_rows(
        self, texts: list[str], fn: Callable[[list[str]], np.ndarray], *, gloss: bool = False
    ) -> np.ndarray:
        """The English model's vectors of the mostly-English texts. The others get zero rows (never embedded as
        they are: an English-only model puts all Chinese text in one corner, which would read as similarity), or
        with ``gloss`` (profile passages) the vectors of their word-by-word English glosses (``lexicon.gloss``),
        so an English summary gets the English model's opinion of a Chinese profile too."""
        assert self.english is not None
        rows = np.zeros((len(texts), self.english.dim), dtype=np.float32)
        chosen: list[tuple[int, str]] = []
        for i, t in enumerate(texts):
            if is_mostly_english(t):
                chosen.append((i, t))
            elif gloss and (g := self.lexicon.gloss(t)):
                chosen.append((i, g))
        for start in range(0, len(chosen), 256):
            part = chosen[start : start + 256]
            rows[[i for i, _ in part]] = fn([t for _, t in part])
        return rows

    def _store_vectors(self, c: _Corpus, items: Sequence[tuple[int, np.ndarray]]) -> None:
        """Put each item's rows (as ``embed_*_docs`` made them) into the corpus's dense indexes."""
        dim = self.embedder.dim
        c.dense.upsert_many((i, v[:, :dim]) for i, v in items)
        if c.english is not None:
            english = [(i, v[:, dim:]) for i, v in items if v.shape[1] > dim and v[:, dim:].any()]
            c.english.remove([i for i, v in items if i in c.english])
            c.english.upsert_many(english)

    def _vectors(self, c: _Corpus, item_id: int) -> np.ndarray:
        """An item's stored rows in the ``embed_*_docs`` layout (the English part is zeros where absent)."""
        main = c.dense.vectors(item_id)
        if c.english is None or len(main) == 0:
            return main
        english = c.english.vectors(item_id)
        if len(english) != len(main):
            english = np.zeros((len(main), c.english.dim), dtype=np.float32)
        return np.hstack([main, english])

    def stored_vectors(self, corpus: str, item_id: int) -> np.ndarray:
        """An indexed item's rows in the layout ``embed_*_docs`` returns (empty if it is not indexed)."""
        return self._vectors(self.platforms if corpus == "platforms" else self.technologies, item_id)

    # ---- documents -----------------------------------------------------------------------------------------
    def platform_docs(self, rows: Iterable[Platform]) -> list[PlatformDoc]:
        return [platform_doc(p, self.settings.passage_chars, self.model_key) for p in rows]

    def prepare_platforms(
        self, rows: Sequence[Platform], progress: Progress | None = None
    ) -> tuple[list[PlatformDoc], list[np.ndarray]]:
        """Documents and passage vectors for rows about to be stored (embedding is the slow part)."""
        docs = self.platform_docs(rows)
        return docs, self.embed_platform_docs(docs, progress)

    def technology_docs(self, rows: Iterable[Technology]) -> list[TechnologyDoc]:
        return [technology_doc(t, self.model_key) for t in rows]

    def embed_platform_docs(
        self, docs: Sequence[PlatformDoc], progress: Progress | None = None, batch: int = 256
    ) -> list[np.ndarray]:
        """Passage vectors per doc, embedded in large batches (embedding is the floor of every import); with the
        English channel on, each row is followed by the English model's vector of that passage."""
        flat = [p for d in docs for p in d.passages]
        vecs = self._embed_batched(flat, self.embedder.embed_passages, progress, batch)
        if self.english is not None:
            vecs = np.hstack([vecs, self._english_rows(flat, self.english.embed_passages, gloss=True)])
        out, start = [], 0
        for d in docs:
            out.append(vecs[start : start + len(d.passages)])
            start += len(d.passages)
        return out

    def embed_technology_docs(
        self, docs: Sequence[TechnologyDoc], progress: Progress | None = None, batch: int = 256
    ) -> list[np.ndarray]:
        texts = [d.text for d in docs]
        vecs = self._embed_batched(texts, self.embedder.embed_queries, progress, batch)
        if self.english is not None:
            vecs = np.hstack([vecs, self._english_rows(texts, self.english.embed_queries)])
        return [vecs[i : i + 1] for i in range(len(docs))]

    def _embed_batched(
        self, texts: list[str], fn: Callable[[list[str]], np.ndarray], progress: Progress | None, batch: int
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        parts = []
        for i in range(0, len(texts), batch):
            parts.append(fn(texts[i : i + batch]))
            if progress:
                progress(min(i + batch, len(texts)), len(texts))
        return np.vstack(parts)

    # ---- applying writes -----------------------------------------------------------------------------------
    def with_inferred_directions(self, doc: PlatformDoc, vectors: np.ndarray) -> PlatformDoc:
        """A profile that lists no directions gets inferred ones (for sector fit and priority)."""
        if doc.facts.directions or len(vectors) == 0:
            return doc
        inferred = self.directions.infer_passages(vectors[:, : self.embedder.dim], "\n".join(doc.passages))
        return replace(
            doc, facts=replace(doc.facts, inferred=tuple((d.code, d.confidence) for d in inferred))
        )

    def complete_need(self, need: NeedFacts, vector: np.ndarray, text: str) -> NeedFacts:
        """The need with inferred directions filled in when the user chose none (explicit choices win)."""
        if need.directions or need.inferred:
            return need
        text = normalize_text(text)
        terms = QueryTerms.of(text, self.lexicon)
        return self._search(vector, text, terms, need, None, self.settings.candidate_pool).need

    def apply_platforms(self, docs: Sequence[PlatformDoc], vectors: Sequence[np.ndarray]) -> None:
        """Add or replace platforms in the indexes (active ones only; call ``remove_platforms`` for the rest)."""
        docs = [self.with_inferred_directions(d, v) for d, v in zip(docs, vectors, strict=True)]
        c = self.platforms
        self._store_vectors(c, [(d.id, v) for d, v in zip(docs, vectors, strict=True)])
        c.lexical.upsert_many((d.id, list(d.tokens)) for d in docs)
        for d in docs:
            c.docs[d.id] = d
        c.dirty = True
        c.version += 1

    def update_platform_facts(self, doc: PlatformDoc) -> None:
        """A profile change that leaves its text alone (tier, province, ...) needs no re-embedding."""
        if doc.id in self.platforms.docs:
            self.platforms.docs[doc.id] = self.with_inferred_directions(
                doc, self.platforms.dense.vectors(doc.id)
            )
            self.platforms.dirty = True
            self.platforms.version += 1

    def remove_platforms(self, ids: Iterable[int]) -> None:
        self._remove(self.platforms, list(ids))

    def apply_technologies(self, docs: Sequence[TechnologyDoc], vectors: Sequence[np.ndarray]) -> None:
        docs = [
            self._completed_technology(d, v[0]) if len(v) else d for d, v in zip(docs, vectors, strict=True)
        ]
        c = self.technologies
        self._store_vectors(c, [(d.id, v) for d, v in zip(docs, vectors, strict=True)])
        c.lexical.upsert_many((d.id, list(d.tokens)) for d in docs)
        for d in docs:
            c.docs[d.id] = d
        c.dirty = True
        c.version += 1

    def update_technology_facts(self, doc: TechnologyDoc) -> None:
        """A technology change that leaves its text alone (TRL, directions, status) needs no re-embedding. Its
        completion is kept when nothing it depends on changed (the same facts, the same platforms and feedback
        settings): a start-up that finds every row as its snapshot holds it searches nothing."""
        c = self.technologies
        old = c.docs.get(doc.id)
        if (
            old is not None
            and old.expansion == self.expansion
            and replace(old.facts, inferred=()) == doc.facts
        ):
            c.docs[doc.id] = replace(
                doc,
                facts=old.facts,
                best_raw=old.best_raw,
                expanded=old.expanded,
                expansion=old.expansion,
            )
            if old.card != doc.card:
                c.dirty = True
            return
        vectors = self._vectors(c, doc.id)
        if old is not None and len(vectors):
            c.docs[doc.id] = self._completed_technology(doc, vectors[0])
            c.dirty = True
            c.version += 1

    def remove_technologies(self, ids: Iterable[int]) -> None:
        self._remove(self.technologies, list(ids))

    def _remove(self, c: _Corpus, ids: list[int]) -> None:
        c.dense.remove(ids)
        if c.english is not None:
            c.english.remove(ids)
        c.lexical.remove(ids)
        for i in ids:
            c.docs.pop(i, None)
        c.dirty = True
        c.version += 1

    def needs_reembedding(self, doc: PlatformDoc | TechnologyDoc, corpus: str) -> bool:
        c = self.platforms if corpus == "platforms" else self.technologies
        old = c.docs.get(doc.id)
        return old is None or old.content_hash != doc.content_hash

    # ---- matching ------------------------------------------------------------------------------------------
    def match(self, query: MatchQuery) -> list[PlatformMatch]:
        """Rank active platforms for a technology description."""
        text = normalize_text(query.text)
        return self.match_vector(self.embed_query(text), text, query)

    def match_vector(self, qvec: np.ndarray, text: str, query: MatchQuery) -> list[PlatformMatch]:
        """Rank platforms for an embedded query (see ``match_with_need``)."""
        return self.match_with_need(qvec, text, query)[0]

    def match_with_need(
        self, qvec: np.ndarray, text: str, query: MatchQuery
    ) -> tuple[list[PlatformMatch], NeedFacts]:
        """Rank platforms for an embedded query; also return the need ranked for. Without explicit directions
        (and none inferred by the caller), the query's directions are inferred from the same candidates."""
        terms = QueryTerms.of(text, self.lexicon)
        allowed = self._allowed(query)
        pool = max(self.settings.candidate_pool, query.limit * 3)
        found = self._search(qvec, text, terms, query.need, allowed, pool)
        need = found.need
        ranked = self._ranked(need, found.fused, query.limit)
        # Unfiltered, the best candidate is the first ranked; filtered, it is the best of all candidates.
        best = self._best(need, found.basis) if allowed is not None else ranked[0][0] if ranked else None
        own_words = surface_forms(text)
        matches = []
        for _, relevance, doc, hit in ranked:
            result = self.ranker.score(need, doc.facts, relevance, best)
            matches.append(
                PlatformMatch(
                    platform_id=doc.id,
                    score=result.score,
                    explanation=result.explanation,
                    card=doc.card,
                    evidence=Evidence(
                        passage=doc.passages[min(hit.passage, len(doc.passages) - 1)],
                        terms=self._evidence_terms(own_words, terms, doc),
                    ),
                )
            )
        return matches, need

    def _search(
        self,
        qvec: np.ndarray,
        text: str,
        terms: QueryTerms,
        need: NeedFacts,
        allowed: set[int] | None,
        pool: int,
    ) -> _Search:
        """A query's candidates, ready to rank: a first pass infers the need's directions (unless given), and
        where feedback applies (``_expanded``) a second pass scores them again with the expanded query and infers
        the directions anew from its candidates.

        Inferred directions and the best score (which calibration reads scores against) come from the unfiltered
        candidates: an area filter would otherwise decide the directions and make its best look like a fit.
        """
        lexical = self._lexical(terms)
        within = self._candidates(qvec, terms, allowed, pool, lexical)
        every = within
        if allowed is not None:
            every = self._candidates(qvec, terms, None, self.settings.candidate_pool, lexical)
        fused = self._fuse(within)
        basis = fused if allowed is None else self._fuse(every)
        infer = not (need.directions or need.inferred)
        first = need
        if infer:
            first = replace(need, inferred=self._inferred_from(basis, self.split(qvec)[0], text))
        expanded = self._expanded(qvec, text, first, basis)
        if expanded is None:
            return _Search(qvec, first, fused, basis, expanded=False)
        # The same candidates, scored again by the expanded query: it moves a fifth of the way toward the best
        # of them, so a second search of the whole index would find next to nothing that the first one and the
        # word channels missed.
        moved = self.split(expanded)[0]
        fused = self._fuse(self._rescored(within, moved))
        basis = fused if allowed is None else self._fuse(self._rescored(every, moved))
        # The expanded query's candidates vote for the directions again: they are the better neighbours.
        if infer:
            need = replace(need, inferred=self._inferred_from(basis, moved, text))
        return _Search(expanded, need, fused, basis, expanded=True)

    def _expanded(
        self, qvec: np.ndarray, text: str, need: NeedFacts, basis: list[Candidate]
    ) -> np.ndarray | None:
        """Pseudo-relevance feedback (Rocchio): the query vector moved toward the mean profile of its best-ranked
        platforms, or None where it does not apply.

        A researcher's summary and a platform's profile describe one process in different words; the platforms
        that rank first describe it in a profile's words, so the moved query finds their peers that share few
        words with the summary (measured on the dev set: paraphrases and short titles gain most). It applies
        where the multilingual model is the query's one dense opinion, and to English queries of a few words
        (``expansion_english_words``), where the English model is least sure. An English summary's English-model
        half gained nothing from it, and moving only the multilingual half tilted the two models' scales.
        """
        s = self.settings
        weight, depth = s.expansion_weight, s.expansion_depth
        main, english = self.split(qvec)
        if weight <= 0 or not basis:
            return None
        if english is not None and len(text.split()) > s.expansion_english_words:
            return None
        top = self._ranked(need, basis, depth)
        profiles = [self.platforms.dense.vectors(doc.id) for _, _, doc, _ in top]
        centroids = unit_rows(np.vstack([v.mean(axis=0) for v in profiles if len(v)]))
        moved = unit_rows(main + weight * centroids.mean(axis=0))[0]
        return np.concatenate([moved, qvec[len(main) :]]) if len(qvec) > len(main) else moved

    def _lexical(self, terms: QueryTerms) -> _Lexical:
        with MATCH_SECONDS.labels("lexical").time():
            c = self.platforms.lexical
            return _Lexical(c.scored(terms.tokens), c.scored(terms.translated) if terms.translated else None)

    def _fuse(self, candidates: list[Channels]) -> list[Candidate]:
        return [(self.fusion.fuse(scores), doc, hit) for scores, doc, hit in candidates]

    def _rescored(self, candidates: list[Channels], qvec: np.ndarray) -> list[Channels]:
        """The same candidates with their dense scores (and best passages) from another query vector."""
        top = 2 if self.settings.passage_aggregation == "top2mean" else 1
        hits = self.platforms.dense.score_items(qvec, [doc.id for _, doc, _ in candidates], top=top)
        rank = {i: r for r, i in enumerate(sorted(hits, key=lambda i: -hits[i].score))}
        return [
            (scores.with_dense(hits[doc.id].score, rank[doc.id]), doc, hits[doc.id])
            for scores, doc, _ in candidates
            if doc.id in hits
        ]

    def _candidates(
        self,
        qvec: np.ndarray,
        terms: QueryTerms,
        allowed: set[int] | None,
        pool: int,
        lexical: _Lexical,
    ) -> list[Channels]:
        """Candidates from every channel (each contributes its best ``pool``), with every channel's scores."""
        c = self.platforms
        docs = c.docs
        qvec, qenglish = self.split(qvec)
        with MATCH_SECONDS.labels("dense").time():
            dense_hits = {h.item_id: h for h in c.dense.search(qvec, pool, allowed)}
        # The word channels add candidates the dense channel missed; half its pool each is plenty (every extra
        # candidate costs a dense lookup and a ranking).
        word_pool = max(pool // 2, 10)
        # Each query is scored once (``lexical``); its best items and, below, the other candidates' scores come
        # from that.
        words, translations = lexical.words, lexical.translations
        lexical_hits = words.top(word_pool, allowed)
        translated_hits = translations.top(word_pool, allowed) if translations is not None else []
        lexical = {h.item_id: h.score for h in lexical_hits}
        translated = {h.item_id: h.score for h in translated_hits}
        missing_dense = [i for i in lexical.keys() | translated.keys() if i not in dense_hits]
        if missing_dense:
            dense_hits.update(c.dense.score_items(qvec, missing_dense))
        if self.settings.passage_aggregation == "top2mean":
            dense_hits = c.dense.score_items(qvec, list(dense_hits), top=2)
        missing_lex = [i for i in dense_hits if i not in lexical]
        if missing_lex and lexical_hits:
            lexical.update(words.of(missing_lex))
        missing_tr = [i for i in dense_hits if i not in translated]
        if missing_tr and translations is not None and translated_hits:
            translated.update(translations.of(missing_tr))
        dense_rank = {i: r for r, i in enumerate(sorted(dense_hits, key=lambda i: -dense_hits[i].score))}
        lexical_rank = {h.item_id: r for r, h in enumerate(lexical_hits)}
        translated_rank = {h.item_id: r for r, h in enumerate(translated_hits)}
        english = self._english_scores(c, qenglish, dense_hits)
        candidates = []
        for pid, hit in dense_hits.items():
            doc = docs.get(pid)
            if doc is None or (allowed is not None and pid not in allowed):
                continue
            overlap_zh, overlap_en = terms.lang.overlap(doc.lang)
            scores = ChannelScores(
                dense=hit.score,
                lexical=lexical.get(pid, 0.0),
                overlap_zh=overlap_zh,
                overlap_en=overlap_en,
                query_zh=terms.lang.zh,
                query_en=terms.lang.en,
                dense_rank=dense_rank.get(pid),
                lexical_rank=lexical_rank.get(pid),
                translated=translated.get(pid, 0.0),
                translated_rank=translated_rank.get(pid),
                english=english.get(pid),
            )
            candidates.append((scores, doc, hit))
        return candidates

    @staticmethod
    def _english_scores(c: _Corpus, query: np.ndarray | None, items: Iterable[int]) -> dict[int, float]:
        """The English model's best-passage cosine for the candidates it has rows for (a passage's own words
        where it is mostly English, else its gloss)."""
        if query is None or c.english is None:
            return {}
        with MATCH_SECONDS.labels("dense_english").time():
            return {
                i: h.score
                for i, h in c.english.score_items(query, [i for i in items if i in c.english]).items()
            }

    def _best(self, need: NeedFacts, basis: list[Candidate]) -> float | None:
        """The best raw score among the unfiltered candidates ``basis``."""
        ranked = self._ranked(need, basis, 1)
        return ranked[0][0] if ranked else None

    @property
    def expansion(self) -> tuple[float, int, int, str]:
        """What a technology's completion (inferred directions, best raw score, moved query) depends on: the
        feedback settings (all three: the word limit decides whether a short English summary is moved at all)
        and the platforms indexed. A completion made under another key is stale: ``complete_stale_technologies``
        works it out again, so a technology scores the same in every process and after a rebuild."""
        s = self.settings
        return (s.expansion_weight, s.expansion_depth, s.expansion_english_words, self.platform_fingerprint())

    def platform_fingerprint(self) -> str:
        """A digest of every indexed platform's id, text and facts (cached until the platform corpus changes)."""
        c = self.platforms
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

    def stale_technologies(self) -> int:
        """How many indexed technologies were completed under another key than ``expansion``'s."""
        key = self.expansion
        return sum(1 for d in self.technologies.docs.values() if d.expansion != key)

    def complete_stale_technologies(self, limit: int | None = None) -> int:
        """Work out again up to ``limit`` (all when None) stale technologies' completions; returns how many.

        Callers hold ``write_lock``. The follower thread calls this in small batches after platform changes, so
        the lock is never held for long; ``pilotmatch reindex`` and start-up complete everything at once.
        """
        c = self.technologies
        key = self.expansion
        done = 0
        for doc in [d for d in c.docs.values() if d.expansion != key]:
            if limit is not None and done >= limit:
                break
            vectors = self._vectors(c, doc.id)
            fresh = replace(doc, facts=replace(doc.facts, inferred=()))
            c.docs[doc.id] = (
                self._completed_technology(fresh, vectors[0]) if len(vectors) else replace(doc, expansion=key)
            )
            c.dirty = True
            c.version += 1
            done += 1
        return done

    def _completed_technology(self, doc: TechnologyDoc, vector: np.ndarray) -> TechnologyDoc:
        """A technology with its inferred directions, its best raw score and its expanded query vector against
        the platforms now indexed (the reverse direction scores it against a platform as its forward match
        would)."""
        terms = QueryTerms.of(doc.text, self.lexicon)
        found = self._search(vector, doc.text, terms, doc.facts, None, self.settings.candidate_pool)
        return replace(
            doc,
            facts=found.need,
            best_raw=self._best(found.need, found.basis),
            expanded=self.split(found.qvec)[0] if found.expanded else None,
            expansion=self.expansion,
        )

    def _inferred_from(
        self, fused: list[tuple[Relevance, PlatformDoc, DenseHit]], qvec: np.ndarray, text: str
    ) -> tuple[tuple[str, float], ...]:
        """A query's likely directions: those of the most relevant platforms (listed or inferred), or, when too
        few have any (a new registry), the directions whose taxonomy descriptions the text is most similar to."""
        neighbours = [(rel.total, doc.facts.direction_weights()) for rel, doc, _ in fused]
        voted = vote_directions(neighbours)
        if not voted:
            return tuple((d.code, d.confidence) for d in self.directions.infer(qvec, text))
        # Neighbours that fit only loosely (a need no platform serves) vouch less for their directions, so a
        # wrong guess cannot lift their whole sector above a platform that fits.
        nearest = max(total for total, weights in neighbours if weights)
        return tuple((d.code, round(d.confidence * min(1.0, nearest), 4)) for d in voted)

    def _ranked(self, need: NeedFacts, fused: list[Candidate], limit: int) -> list[Ranked]:
        """The ``limit`` best candidates by raw score, best first (``Ranker.top``: exact, scoring few)."""
        top = self.ranker.top(need, ((rel, doc.facts, (doc, hit)) for rel, doc, hit in fused), limit)
        return [(raw, rel, doc, hit) for raw, rel, _, (doc, hit) in top]

    def score_pair(
        self, qvec: np.ndarray, text: str, need: NeedFacts, platform_id: int
    ) -> PlatformMatch | None:
        """The match of one platform for a query, exactly as ``match`` would score it (None if not indexed)."""
        doc = self.platforms.docs.get(platform_id)
        if doc is None or platform_id not in self.platforms.dense:
            return None
        terms = QueryTerms.of(text, self.lexicon)
        found = self._search(qvec, text, terms, need, None, self.settings.candidate_pool)
        need, best = found.need, self._best(found.need, found.basis)
        main, english = self.split(found.qvec)
        hit = self.platforms.dense.score_items(main, [platform_id])[platform_id]
        pair_english = self._english_scores(self.platforms, english, [platform_id]).get(platform_id)
        scores = self._pair_scores(hit.score, terms, doc, pair_english)
        result = self.ranker.score(need, doc.facts, self.fusion.fuse(scores), best)
        return PlatformMatch(
            platform_id=platform_id,
            score=result.score,
            explanation=result.explanation,
            card=doc.card,
            evidence=Evidence(
                doc.passages[hit.passage],
                self._evidence_terms(surface_forms(text), terms, doc),
            ),
        )

    def _pair_scores(
        self, dense: float, terms: QueryTerms, doc: PlatformDoc, english: float | None = None
    ) -> ChannelScores:
        """Every channel's opinion of one (query, platform) pair, outside a ranked search."""
        lexical = self.platforms.lexical
        overlap_zh, overlap_en = terms.lang.overlap(doc.lang)
        return ChannelScores(
            dense=dense,
            lexical=lexical.score_items(terms.tokens, [doc.id])[doc.id],
            overlap_zh=overlap_zh,
            overlap_en=overlap_en,
            query_zh=terms.lang.zh,
            query_en=terms.lang.en,
            translated=lexical.score_items(terms.translated, [doc.id])[doc.id] if terms.translated else 0.0,
            english=english,
        )

    def _evidence_terms(self, own_words: dict[str, str], terms: QueryTerms, doc: PlatformDoc) -> list[str]:
        """The query's terms found in the profile, as the query wrote them (``own_words``: its stems' surface
        forms), then its translated terms found there, as the profile writes them ("electrolyser" for 电解槽)."""
        lexical = self.platforms.lexical
        shared = [own_words.get(t, t) for t in lexical.matched_terms(terms.tokens, doc.id)]
        found = lexical.matched_terms(terms.translated, doc.id) if terms.translated else []
        if any(t.isascii() for t in found):
            theirs = surface_forms("\n".join(doc.passages))
            found = [theirs.get(t, t) for t in found]
        return list(dict.fromkeys(shared + found))

    def _allowed(self, query: MatchQuery) -> set[int] | None:
        if query.area is None and not query.tiers:
            return None
        tiers = set(query.tiers)
        return {
            pid
            for pid, d in self.platforms.docs.items()
            if (query.area is None or d.facts.area == query.area) and (not tiers or d.facts.tier in tiers)
        }

    def technologies_for_platform(self, platform_id: int, limit: int = 10) -> list[TechnologyMatch]:
        """The reverse direction: open technologies that fit a platform, scored exactly as the forward match."""
        pdoc = self.platforms.docs.get(platform_id)
        if pdoc is None:
            raise NotFound(f"Platform {platform_id} is not active or does not exist.")
        t = self.technologies
        pvecs = self.platforms.dense.vectors(platform_id)
        penglish = self.platforms.english.vectors(platform_id) if self.platforms.english is not None else None
        pool = max(self.settings.candidate_pool, limit * 3)
        candidates: set[int] = set()
        for v in pvecs:
            candidates.update(h.item_id for h in t.dense.search(v, pool))
        results: list[TechnologyMatch] = []
        for tid in candidates:
            tdoc = t.docs.get(tid)
            if tdoc is None:
                continue
            tvec = t.dense.vectors(tid) if tdoc.expanded is None else tdoc.expanded[None, :]
            if len(tvec) == 0:
                continue
            sims = pvecs @ tvec[0]
            best = int(np.argmax(sims))
            terms = QueryTerms.of_tokens(list(tdoc.tokens), tdoc.lang, self.lexicon)
            scores = self._pair_scores(float(sims[best]), terms, pdoc, self._english_pair(penglish, tid))
            scored = self.ranker.score(tdoc.facts, pdoc.facts, self.fusion.fuse(scores), tdoc.best_raw)
            results.append(
                TechnologyMatch(
                    technology_id=tid,
                    score=scored.score,
                    explanation=scored.explanation,
                    card=tdoc.card,
                    evidence=Evidence(
                        passage=pdoc.passages[best],
                        terms=self._evidence_terms(surface_forms(tdoc.text), terms, pdoc),
                    ),
                )
            )
        results.sort(key=lambda m: (-m.score, m.technology_id))
        return results[:limit]

    def _english_pair(self, platform_rows: np.ndarray | None, technology_id: int) -> float | None:
        """The English model's cosine of a technology and a platform's best passage (as the English model reads
        it: in its own words or glossed), if both have English-model rows."""
        t = self.technologies.english
        if platform_rows is None or len(platform_rows) == 0 or t is None or technology_id not in t:
            return None
        return float(np.max(platform_rows @ t.vectors(technology_id)[0]))

    def technology_vector(self, technology_id: int) -> np.ndarray | None:
        """A stored technology's query vector (the layout of ``embed_query``)."""
        v = self._vectors(self.technologies, technology_id)
        return v[0] if len(v) else None

    # ---- snapshots -----------------------------------------------------------------------------------------
    def _manifest_path(self, c: _Corpus) -> Path:
        return self.index_dir / f"{c.name}.manifest.json"

    def _files(self, c: _Corpus, generation: str) -> tuple[Path, Path]:
        return (
            self.index_dir / f"{c.name}.{generation}.faiss",
            self.index_dir / f"{c.name}.{generation}.docs.pickle",
        )

    def _english_file(self, c: _Corpus, generation: str) -> Path:
        return self.index_dir / f"{c.name}.{generation}.english.faiss"

    def save(self) -> None:
        """Write each changed corpus to ``index_dir``: the FAISS index and the documents under a new generation
        name, then the manifest naming that generation and the change-log position the snapshot includes.

        The manifest is replaced last and atomically, so a reader (another process starting) sees one whole
        generation or the previous one, never a mix. A corpus large enough switches to an approximate index
        here, so the switch (training) is paid once and saved.
        """
        self.index_dir.mkdir(parents=True, exist_ok=True)
        position = self.log_position  # read first: the state written below includes at least this much
        for c in (self.platforms, self.technologies):
            with self.write_lock:
                if not c.dirty:
                    # Unchanged since its last save, so the files on disk are current up to ``position`` too.
                    self._advance_manifest(c, position)
                    continue
                threshold = self.settings.approximate_index_above
                if not c.dense.approximate and threshold and c.dense.passage_count >= threshold:
                    started = time.perf_counter()
                    c.dense.make_approximate()
                    log.info(
                        "index=%s event=approximate passages=%d seconds=%.1f",
                        c.name,
                        c.dense.passage_count,
                        time.perf_counter() - started,
                    )
                generation = f"{time.time_ns():x}-{os.getpid():x}"
                faiss_path, docs_path = self._files(c, generation)
                c.dense.save(faiss_path)
                if c.english is not None:
                    c.english.save(self._english_file(c, generation))
                c.lexical.search([], 1)  # a pending BM25 merge is done now, not at every start-up after
                _write_pickle(docs_path, {"docs": c.docs, "lexical": c.lexical.snapshot_state()})
                manifest = IndexManifest(
                    corpus=c.name,
                    model=self.model_key,
                    dim=self.embedder.dim,
                    count=len(c.dense),
                    passages=c.dense.passage_count,
                    built_at=datetime.now(UTC).isoformat(timespec="seconds"),
                    generation=generation,
                    log_position=position,
                    approximate=c.dense.approximate,
                )
                _write_json(self._manifest_path(c), manifest.__dict__)
                c.dirty = False
                c.generation = generation
            self._drop_old_generations(c, keep=generation)

    def _advance_manifest(self, c: _Corpus, position: int) -> None:
        """Only a generation this process wrote or loaded is known to match its memory."""
        manifest = IndexManifest.read(self._manifest_path(c))
        if manifest is not None and manifest.generation == c.generation and manifest.log_position < position:
            manifest.log_position = position
            _write_json(self._manifest_path(c), manifest.__dict__)

    def _drop_old_generations(self, c: _Corpus, keep: str) -> None:
        """Remove older generations' files, sparing the newest other one (a process may be reading it)."""
        files = sorted(
            (
                p
                for p in self.index_dir.glob(f"{c.name}.*.*")
                if keep not in p.name and ".manifest." not in p.name and p.suffix != ".tmp"
            ),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        generations = list(dict.fromkeys(p.name.split(".")[1] for p in files))
        for p in files:
            if p.name.split(".")[1] in generations[1:]:
                p.unlink(missing_ok=True)

    def manifest(self, corpus: str) -> IndexManifest | None:
        c = self.platforms if corpus == "platforms" else self.technologies
        return IndexManifest.read(self._manifest_path(c))

    def _read_snapshot(self, c: _Corpus) -> IndexManifest | None:
        """Load a corpus snapshot (index, documents, tokens) if this model built it; None means rebuild."""
        c.docs.clear()
        c.version += 1
        c.dense, c.english = self._empty_indexes()
        c.lexical = LexicalIndex()
        manifest = IndexManifest.read(self._manifest_path(c))
        if manifest is None:
            log.info("index=%s action=rebuild reason=missing", c.name)
            return None
        if (
            manifest.format != SNAPSHOT_FORMAT
            or manifest.model != self.model_key
            or manifest.dim != self.embedder.dim
        ):
            log.warning(
                "index=%s action=rebuild reason=model-mismatch built_with=%s current=%s",
                c.name,
                manifest.model,
                self.model_key,
            )
            return None
        faiss_path, docs_path = self._files(c, manifest.generation)
        try:
            dense = DenseIndex.load(faiss_path, self.embedder.dim, self.settings.dense_nprobe)
            english = (
                DenseIndex.load(self._english_file(c, manifest.generation), self.english.dim)
                if self.english is not None
                else None
            )
            with docs_path.open("rb") as f:
                saved = pickle.load(f)  # our own file, written by ``save`` (never user input)
            docs, lexical_state = saved["docs"], saved["lexical"]
        except Exception as exc:
            log.warning("index=%s action=rebuild reason=unreadable error=%s", c.name, exc)
            return None
        stray = [i for i in dense.item_ids() if i not in docs]
        dense.remove(stray)
        if english is not None:
            english.remove([i for i in english.item_ids() if i not in docs])
        c.dense, c.english = dense, english
        c.docs.update({i: d for i, d in docs.items() if i in dense})
        c.lexical = LexicalIndex.restored({i: list(d.tokens) for i, d in c.docs.items()}, lexical_state)
        c.generation = manifest.generation if not stray else ""
        return manifest

    def load_snapshots(self) -> int | None:
        """The fast start: load both snapshots as they are and return the change-log position they include
        (the caller replays the log after it). None if either is missing or unusable."""
        with self.write_lock:
            manifests = [self._read_snapshot(self.platforms), self._read_snapshot(self.technologies)]
            if any(m is None for m in manifests):
                return None
            self.complete_stale_technologies()
        return min(m.log_position for m in manifests if m is not None)

    def loaded(self, stats: dict[str, int], started: float) -> None:
        """Mark the engine ready once its indexes are in step; build the lexical indexes now rather than at the
        first query."""
        for c in (self.platforms, self.technologies):
            c.lexical.search([], 1)
        self.ready = True
        self.load_stats = stats
        log.info(
            "event=index_loaded seconds=%.2f %s",
            time.perf_counter() - started,
            " ".join(f"{k}={v}" for k, v in stats.items()),
        )

    def read_snapshot(self, corpus: str) -> None:
        """Load one corpus's snapshot as it is, or start it empty when there is none usable (the reconcile in
        ``matcher.indexing`` then brings it in step with the rows)."""
        with self.write_lock:
            self._read_snapshot(self.platforms if corpus == "platforms" else self.technologies)

    def indexed_ids(self, corpus: str) -> list[int]:
        return list((self.platforms if corpus == "platforms" else self.technologies).docs)

    def clear_snapshots(self) -> None:
        for c in (self.platforms, self.technologies):
            self._manifest_path(c).unlink(missing_ok=True)
            for p in self.index_dir.glob(f"{c.name}.*.*"):
                p.unlink(missing_ok=True)


def _write_pickle(path: Path, data: object) -> None:
    tmp = path.with_suffix(f"{path.suffix}.{os.getpid()}.{threading.get_ident()}.tmp")
    with tmp.open("wb") as f:
        pickle.dump(data, f, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)


def _write_json(path: Path, data: object) -> None:
    tmp = path.with_suffix(f"{path.suffix}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    tmp.replace(path)
