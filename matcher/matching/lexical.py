"""The lexical channel: BM25 (``bm25s``) over jieba/English tokens.

bm25s builds a static sparse index, so writes only mark the index stale and the next search rebuilds it from
the token lists kept here (no re-tokenising). Scores are normalised by the query's upper bound (the sum over the
query's known terms of their best score in any document), times the share of query terms the corpus knows, so
a normalised score means "share of the query's term weight matched" and is comparable across queries.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

import bm25s
import numpy as np


@dataclass(frozen=True, slots=True)
class LexicalHit:
    item_id: int
    score: float


class LexicalIndex:
    """BM25 over item token lists; thread-safe, rebuilt lazily after writes."""

    def __init__(self) -> None:
        self._tokens: dict[int, list[str]] = {}
        self._lock = threading.RLock()
        self._stale = True
        self._bm25: bm25s.BM25 | None = None
        self._doc_items = np.zeros(0, dtype=np.int64)
        self._token_max = np.zeros(0, dtype=np.float32)
        self._row_of: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._tokens)

    def upsert_many(self, items: Iterable[tuple[int, list[str]]]) -> None:
        with self._lock:
            for item_id, tokens in items:
                self._tokens[item_id] = list(tokens)
            self._stale = True

    def remove(self, item_ids: Iterable[int]) -> None:
        with self._lock:
            for i in item_ids:
                self._tokens.pop(i, None)
            self._stale = True

    def _ensure_built(self) -> None:
        if not self._stale:
            return
        items = [i for i, toks in self._tokens.items() if toks]
        if not items:
            self._bm25 = None
        else:
            bm25 = bm25s.BM25()
            bm25.index([self._tokens[i] for i in items], show_progress=False)
            self._bm25 = bm25
            data = bm25.scores["data"]
            indptr = bm25.scores["indptr"]
            token_max = np.zeros(len(indptr) - 1, dtype=np.float32)
            nonempty = np.diff(indptr) > 0
            if data.size:
                token_max[nonempty] = np.maximum.reduceat(data, indptr[:-1][nonempty])
            self._token_max = token_max
        self._doc_items = np.asarray(items, dtype=np.int64)
        self._row_of = {item: row for row, item in enumerate(items)}
        self._stale = False

    def _scores(self, query_tokens: list[str]) -> np.ndarray | None:
        """Normalised scores of every indexed document, or None if the query shares no term with the corpus."""
        if self._bm25 is None or not query_tokens:
            return None
        unique = list(dict.fromkeys(query_tokens))
        ids = self._bm25.get_tokens_ids(unique)
        if not ids:
            return None
        upper = float(self._token_max[ids].sum())
        if upper <= 0:
            return None
        coverage = len(ids) / len(unique)
        raw = self._bm25.get_scores_from_ids(ids)
        return raw * (coverage / upper)

    def search(self, query_tokens: list[str], k: int, allowed: set[int] | None = None) -> list[LexicalHit]:
        with self._lock:
            self._ensure_built()
            scores = self._scores(query_tokens)
            if scores is None:
                return []
            items = self._doc_items
            if allowed is not None:
                mask = np.fromiter((i in allowed for i in items.tolist()), dtype=bool, count=len(items))
                scores = np.where(mask, scores, 0.0)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        hits = [LexicalHit(int(items[r]), float(scores[r])) for r in top if scores[r] > 0]
        return sorted(hits, key=lambda h: -h.score)

    def score_items(self, query_tokens: list[str], item_ids: Iterable[int]) -> dict[int, float]:
        """Normalised score of the query against each listed item (0 for items without shared terms).

        For a handful of items the score is read straight from the sparse score matrix (a binary search per
        query term) instead of scoring the whole corpus.
        """
        item_ids = list(item_ids)
        with self._lock:
            self._ensure_built()
            if len(item_ids) <= 8 and self._bm25 is not None:
                return {i: self._score_one(query_tokens, i) for i in item_ids}
            scores = self._scores(query_tokens)
            row_of = self._row_of
            if scores is None:
                return {i: 0.0 for i in item_ids}
            return {i: float(scores[row_of[i]]) if i in row_of else 0.0 for i in item_ids}

    def _score_one(self, query_tokens: list[str], item_id: int) -> float:
        row = self._row_of.get(item_id)
        if row is None or self._bm25 is None or not query_tokens:
            return 0.0
        unique = list(dict.fromkeys(query_tokens))
        ids = self._bm25.get_tokens_ids(unique)
        if not ids:
            return 0.0
        upper = float(self._token_max[ids].sum())
        if upper <= 0:
            return 0.0
        scores = self._bm25.scores
        data, indices, indptr = scores["data"], scores["indices"], scores["indptr"]
        total = 0.0
        for t in ids:
            lo, hi = int(indptr[t]), int(indptr[t + 1])
            j = lo + int(np.searchsorted(indices[lo:hi], row))
            if j < hi and indices[j] == row:
                total += float(data[j])
        return total * (len(ids) / len(unique)) / upper

    def matched_terms(self, query_tokens: list[str], item_id: int) -> list[str]:
        """Query terms that occur in the item, in query order, without repeats."""
        doc = set(self._tokens.get(item_id, ()))
        return [t for t in dict.fromkeys(query_tokens) if t in doc]
