"""The lexical channel: BM25 (``bm25s``) over jieba/English tokens, in two segments.

bm25s builds a static sparse index. Rebuilding it for the whole corpus after every write would cost seconds at
100,000 profiles, so the index has a large *main* segment and a small *delta* segment: a write masks the item's
row in main (if any) and puts its tokens in the delta, which is rebuilt on the next search (cheap while small).
When the delta outgrows ``MERGE_FRACTION`` of main, the next search rebuilds main from every item's tokens (kept
here, never re-tokenised) and empties the delta. Each segment scores with its own statistics.

A query is a list of terms, each a token or a group of alternative tokens (the translations of one source term;
the best-scoring alternative counts, so a term with four translations weighs no more than one with one). Scores
are normalised by the query's upper bound (the sum over the query's known terms of their best score in any
document of the segment), times the share of query terms the segment knows, so a normalised score means "share of
the query's term weight matched" and is comparable across queries and segments.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import bm25s
import numpy as np

#: The delta is merged into main when it holds more than this share of main's items (and at least MERGE_MIN).
MERGE_FRACTION = 0.1
MERGE_MIN = 256


#: A lexical query: plain tokens, or groups of alternatives of which the best match counts (a translated term).
Terms = Sequence[str | tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class LexicalHit:
    item_id: int
    score: float


class _Segment:
    """An immutable BM25 index over a fixed list of items."""

    def __init__(self, items: list[int], tokens: list[list[str]]) -> None:
        self.items = np.asarray(items, dtype=np.int64)
        self.row_of = {item: row for row, item in enumerate(items)}
        self.bm25 = bm25s.BM25()
        self.bm25.index(tokens, show_progress=False)
        data, indptr = self.bm25.scores["data"], self.bm25.scores["indptr"]
        self.token_max = np.zeros(len(indptr) - 1, dtype=np.float32)
        nonempty = np.diff(indptr) > 0
        if data.size:
            self.token_max[nonempty] = np.maximum.reduceat(data, indptr[:-1][nonempty])

    def _query(self, query: Terms) -> tuple[list[np.ndarray], float] | None:
        """The query's groups as token-id arrays (unknown tokens dropped), and the normalising factor."""
        groups = _groups(query)
        vocab = self.bm25.vocab_dict
        known = []
        for group in groups:
            ids = [vocab[t] for t in group if t in vocab]
            if ids:
                known.append(np.asarray(ids, dtype=np.int64))
        if not known:
            return None
        upper = float(sum(self.token_max[ids].max() for ids in known))
        if upper <= 0:
            return None
        return known, (len(known) / len(groups)) / upper

    def scores(self, query: Terms) -> np.ndarray | None:
        """Normalised scores of every row, or None if the query shares no term with the segment.

        Computed from the postings of the query's terms (cost grows with matches, not with the segment): a group
        of alternatives adds its best-scoring alternative per row.
        """
        q = self._query(query)
        if q is None:
            return None
        known, factor = q
        data, indices, indptr = self._csc()
        total = np.zeros(len(self.items), dtype=np.float32)
        best = np.zeros(len(self.items), dtype=np.float32)
        for ids in known:
            if len(ids) == 1:
                lo, hi = indptr[ids[0]], indptr[ids[0] + 1]
                total[indices[lo:hi]] += data[lo:hi]
                continue
            # A term's postings hold each row once, so a plain fancy-indexed maximum is exact per alternative (no
            # ``np.maximum.at``, which is slow on the long postings of common terms in a large corpus).
            for t in ids:
                lo, hi = indptr[t], indptr[t + 1]
                rows = indices[lo:hi]
                best[rows] = np.maximum(best[rows], data[lo:hi])
            touched = np.concatenate([indices[indptr[t] : indptr[t + 1]] for t in ids])
            # Repeated rows all compute the same total + best, so the buffered += adds each row's best once.
            total[touched] += best[touched]
            best[touched] = 0.0
        return total * factor

    def _csc(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        scores = self.bm25.scores
        return scores["data"], scores["indices"], scores["indptr"]

    def score_one(self, query: Terms, item_id: int) -> float:
        """One item's normalised score, read straight from the sparse matrix (a binary search per term)."""
        row = self.row_of.get(item_id)
        q = self._query(query) if row is not None else None
        if q is None:
            return 0.0
        known, factor = q
        data, indices, indptr = self._csc()
        total = 0.0
        for ids in known:
            best = 0.0
            for t in ids:
                lo, hi = int(indptr[t]), int(indptr[t + 1])
                j = lo + int(np.searchsorted(indices[lo:hi], row))
                if j < hi and indices[j] == row:
                    best = max(best, float(data[j]))
            total += best
        return total * factor


def _groups(query: Terms) -> list[tuple[str, ...]]:
    """A query as distinct groups of alternative tokens (a plain token is a group of one)."""
    return list(dict.fromkeys((t,) if isinstance(t, str) else tuple(t) for t in query if t))


class LexicalScores:
    """One query's normalised scores over the segments of an index, as they were when it was scored."""

    def __init__(self, parts: list[tuple[_Segment, np.ndarray]]) -> None:
        self._parts = parts

    def top(self, k: int, allowed: set[int] | None = None) -> list[LexicalHit]:
        """The best ``k`` items with a positive score (``allowed`` restricts them)."""
        hits: list[LexicalHit] = []
        for segment, scores in self._parts:
            items = segment.items
            if allowed is not None:
                mask = np.fromiter((i in allowed for i in items.tolist()), dtype=bool, count=len(items))
                scores = np.where(mask, scores, 0.0)
            kk = min(k, len(scores))
            if kk <= 0:
                continue
            top = np.argpartition(-scores, kk - 1)[:kk] if kk < len(scores) else np.arange(len(scores))
            hits += [LexicalHit(int(items[r]), float(scores[r])) for r in top if scores[r] > 0]
        return sorted(hits, key=lambda h: -h.score)[:k]

    def of(self, item_ids: Iterable[int]) -> dict[int, float]:
        """Each listed item's score (0 for items that share no term or are not indexed)."""
        out = dict.fromkeys(item_ids, 0.0)
        for segment, scores in self._parts:
            for i in out:
                row = segment.row_of.get(i)
                if row is not None and scores[row] > 0:
                    out[i] = float(scores[row])
        return out


class LexicalIndex:
    """BM25 over item token lists; thread-safe; writes cost a small delta rebuild, not a full one."""

    def __init__(self) -> None:
        self._tokens: dict[int, list[str]] = {}
        self._lock = threading.RLock()
        self._main: _Segment | None = None
        self._main_live = np.zeros(0, dtype=bool)
        self._delta: _Segment | None = None
        self._delta_ids: set[int] = set()
        self._delta_stale = False
        self._merge_due = True

    def __len__(self) -> int:
        return len(self._tokens)

    def snapshot_state(self) -> tuple:
        """What a snapshot keeps so start-up need not rebuild main (seconds at 100,000 profiles)."""
        with self._lock:
            return self._main, self._main_live.copy(), set(self._delta_ids)

    @classmethod
    def restored(cls, tokens: dict[int, list[str]], state: tuple) -> LexicalIndex:
        """An index over ``tokens`` reusing a saved main segment: rows of items no longer present are retired,
        and items that are not a live row of main go to the delta."""
        index = cls()
        main, live, delta = state
        index._tokens = tokens
        index._main, index._main_live = main, live
        if main is not None:
            for item, row in main.row_of.items():
                if item not in tokens:
                    live[row] = False
        index._delta_ids = {i for i in delta if i in tokens} | {
            i for i in tokens if main is None or (row := main.row_of.get(i)) is None or not live[row]
        }
        index._merge_due = main is None
        index._writes_done()
        return index

    def upsert_many(self, items: Iterable[tuple[int, list[str]]]) -> None:
        with self._lock:
            for item_id, tokens in items:
                self._tokens[item_id] = list(tokens)
                self._retire_main_row(item_id)
                self._delta_ids.add(item_id)
            self._writes_done()

    def remove(self, item_ids: Iterable[int]) -> None:
        with self._lock:
            for i in item_ids:
                self._tokens.pop(i, None)
                self._retire_main_row(i)
                self._delta_ids.discard(i)
            self._writes_done()

    def _retire_main_row(self, item_id: int) -> None:
        if self._main is not None and (row := self._main.row_of.get(item_id)) is not None:
            self._main_live[row] = False

    def _writes_done(self) -> None:
        self._delta_stale = True
        main_size = len(self._main.items) if self._main is not None else 0
        if len(self._delta_ids) > max(MERGE_MIN, MERGE_FRACTION * main_size):
            self._merge_due = True

    def _ensure_built(self) -> None:
        if self._merge_due:
            items = [i for i, toks in self._tokens.items() if toks]
            self._main = _Segment(items, [self._tokens[i] for i in items]) if items else None
            self._main_live = np.ones(len(items), dtype=bool)
            self._delta, self._delta_ids = None, set()
            self._merge_due = self._delta_stale = False
        elif self._delta_stale:
            items = [i for i in self._delta_ids if self._tokens.get(i)]
            self._delta = _Segment(items, [self._tokens[i] for i in items]) if items else None
            self._delta_stale = False

    def _segment_scores(self) -> Iterable[tuple[_Segment, np.ndarray | None]]:
        if self._main is not None:
            yield self._main, self._main_live
        if self._delta is not None:
            yield self._delta, None

    def scored(self, query_tokens: Terms) -> LexicalScores:
        """The query scored once against every segment, to take its best items from and to read listed items
        off (a match does both; scoring a common term's postings is the costly part, so it is done once)."""
        with self._lock:
            self._ensure_built()
            parts = []
            if query_tokens:
                for segment, live in self._segment_scores():
                    scores = segment.scores(query_tokens)
                    if scores is not None:
                        parts.append((segment, scores if live is None else np.where(live, scores, 0.0)))
            return LexicalScores(parts)

    def search(self, query_tokens: Terms, k: int, allowed: set[int] | None = None) -> list[LexicalHit]:
        return self.scored(query_tokens).top(k, allowed)

    def score_items(self, query_tokens: Terms, item_ids: Iterable[int]) -> dict[int, float]:
        """Normalised score of the query against each listed item (0 for items without shared terms)."""
        item_ids = list(item_ids)
        if len(item_ids) <= 8:  # a few rows: a binary search per term and row beats scoring the segment
            with self._lock:
                self._ensure_built()
                return {i: self._score_one(query_tokens, i) for i in item_ids}
        return self.scored(query_tokens).of(item_ids)

    def _score_one(self, query_tokens: Terms, item_id: int) -> float:
        if item_id in self._delta_ids:
            return self._delta.score_one(query_tokens, item_id) if self._delta is not None else 0.0
        if self._main is None or (row := self._main.row_of.get(item_id)) is None or not self._main_live[row]:
            return 0.0
        return self._main.score_one(query_tokens, item_id)

    def matched_terms(self, query_tokens: Terms, item_id: int) -> list[str]:
        """Query terms (or, for a group, its alternatives) that occur in the item, in query order, no repeats."""
        doc = set(self._tokens.get(item_id, ()))
        return list(dict.fromkeys(t for group in _groups(query_tokens) for t in group if t in doc))
