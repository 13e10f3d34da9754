"""Candidate platforms for a query, with every channel's opinion of each.

The dense channel (FAISS over profile passages), BM25 in the query's own words and BM25 over its translated
terms each contribute their best candidates; each candidate then gets every channel's score (and the English
model's, when the query has that vector), ready for fusion.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from matcher.matching.corpus import Corpus
from matcher.matching.dense import DenseHit
from matcher.matching.documents import PlatformDoc
from matcher.matching.fusion import ChannelScores, Relevance
from matcher.matching.lexical import LexicalScores
from matcher.matching.query import QueryTerms, QueryVector
from matcher.observability import MATCH_SECONDS

#: A candidate platform with every channel's scores, before fusion.
Channels = tuple[ChannelScores, PlatformDoc, DenseHit]
#: A candidate with its fused relevance.
Candidate = tuple[Relevance, PlatformDoc, DenseHit]


@dataclass(frozen=True, slots=True)
class LexicalPass:
    """A query's BM25 scores over the platforms, in its own words and translated: worked out once per match and
    shared by its passes (the filtered and unfiltered one, before and after expansion)."""

    words: LexicalScores
    translations: LexicalScores | None

    @classmethod
    def of(cls, platforms: Corpus, terms: QueryTerms) -> LexicalPass:
        with MATCH_SECONDS.labels("lexical").time():
            c = platforms.lexical
            return cls(c.scored(terms.tokens), c.scored(terms.translated) if terms.translated else None)


def gather(
    platforms: Corpus,
    qvec: QueryVector,
    terms: QueryTerms,
    allowed: set[int] | None,
    pool: int,
    lexical: LexicalPass,
    passages: int = 1,
) -> list[Channels]:
    """Candidates from every channel (each contributes its best ``pool``), with every channel's scores.
    ``passages`` > 1 scores a platform by the mean of its best passages (``passage_aggregation = top2mean``)."""
    docs = platforms.docs
    with MATCH_SECONDS.labels("dense").time():
        dense_hits = {h.item_id: h for h in platforms.dense.search(qvec.main, pool, allowed)}
    # The word channels add candidates the dense channel missed; half its pool each is plenty (every extra
    # candidate costs a dense lookup and a ranking).
    word_pool = max(pool // 2, 10)
    words, translations = lexical.words, lexical.translations
    lexical_hits = words.top(word_pool, allowed)
    translated_hits = translations.top(word_pool, allowed) if translations is not None else []
    lexical_scores = {h.item_id: h.score for h in lexical_hits}
    translated = {h.item_id: h.score for h in translated_hits}
    missing_dense = [i for i in lexical_scores.keys() | translated.keys() if i not in dense_hits]
    if missing_dense:
        dense_hits.update(platforms.dense.score_items(qvec.main, missing_dense))
    if passages > 1:
        dense_hits = platforms.dense.score_items(qvec.main, list(dense_hits), top=passages)
    missing_lex = [i for i in dense_hits if i not in lexical_scores]
    if missing_lex and lexical_hits:
        lexical_scores.update(words.of(missing_lex))
    missing_tr = [i for i in dense_hits if i not in translated]
    if missing_tr and translations is not None and translated_hits:
        translated.update(translations.of(missing_tr))
    dense_rank = {i: r for r, i in enumerate(sorted(dense_hits, key=lambda i: -dense_hits[i].score))}
    lexical_rank = {h.item_id: r for r, h in enumerate(lexical_hits)}
    translated_rank = {h.item_id: r for r, h in enumerate(translated_hits)}
    english = english_scores(platforms, qvec.english, dense_hits)
    candidates = []
    for pid, hit in dense_hits.items():
        doc = docs.get(pid)
        if doc is None or (allowed is not None and pid not in allowed):
            continue
        overlap_zh, overlap_en = terms.lang.overlap(doc.lang)
        scores = ChannelScores(
            dense=hit.score,
            lexical=lexical_scores.get(pid, 0.0),
            overlap_zh=overlap_zh,
            overlap_en=overlap_en,
            query_zh=terms.lang.zh,
            query_en=terms.lang.en,
            dense_rank=dense_rank.get(pid),
            lexical_rank=lexical_rank.get(pid),
            translated=translated.get(pid, 0.0),
            translated_rank=translated_rank.get(pid),
            english=english.get(pid),
            passages=len(doc.passages),
        )
        candidates.append((scores, doc, hit))
    return candidates


def rescored(
    platforms: Corpus, candidates: list[Channels], main: np.ndarray, passages: int = 1
) -> list[Channels]:
    """The same candidates with their dense scores (and best passages) from another query vector."""
    hits = platforms.dense.score_items(main, [doc.id for _, doc, _ in candidates], top=passages)
    rank = {i: r for r, i in enumerate(sorted(hits, key=lambda i: -hits[i].score))}
    return [
        (scores.with_dense(hits[doc.id].score, rank[doc.id]), doc, hits[doc.id])
        for scores, doc, _ in candidates
        if doc.id in hits
    ]


def english_scores(c: Corpus, query: np.ndarray | None, items: Iterable[int]) -> dict[int, float]:
    """The English model's best-passage cosine for the candidates it has rows for (a passage's own words where
    it is mostly English, else its gloss)."""
    if query is None or c.english is None:
        return {}
    with MATCH_SECONDS.labels("dense_english").time():
        return {
            i: h.score for i, h in c.english.score_items(query, [i for i in items if i in c.english]).items()
        }


def pair_scores(
    platforms: Corpus, dense: float, terms: QueryTerms, doc: PlatformDoc, english: float | None = None
) -> ChannelScores:
    """Every channel's opinion of one (query, platform) pair, outside a ranked search."""
    lexical = platforms.lexical
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
        passages=len(doc.passages),
    )
