"""The lexical channel: BM25 (``bm25s``) over jieba/English tokens, in two segments.

bm25s builds a static sparse index. Rebuilding it for the whole corpus after every write would cost seconds at
100,000 profiles, so the index has a large *main* segment and a small *delta* segment: a write masks the item's
row in main (if any) and puts its tokens in the delta, which is rebuilt on the next search (cheap while small).
When the delta outgrows ``MERGE_FRACTION`` of main, the next search rebuilds main from every item's tokens (kept
here, never re-tokenised) and empties the delta. Each segment scores with its own statistics.

A query is a list of terms, each a token or a group of alternatives (the translations of one source term; the
best-scoring alternative counts, so a term with four translations weighs no more than one with one). An
alternative is a token or a phrase of tokens joined by spaces ("sodium ion batteri"): a phrase scores the mean of
its words' BM25, so a document earns it in full only with every word, its rare words weighing most (a profile that
says "battery" has not said "sodium-ion battery"). Scores
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

#: How many prepared queries a segment keeps for ``score_one`` before it forgets them all (a few MB at most).
PREPARED_QUERIES = 4096


#: A lexical query: plain tokens, or groups of alternatives of which the best match counts (a translated term;
#: an alternative may be a phrase, its words joined by spaces).
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
        #: Prepared queries of ``score_one`` by the query object's identity (the object is kept with its entry, so
        #: an id is never mistaken for another's): the reverse direction scores each stored technology's terms
        #: against one platform after another, and preparing them was most of its cost.
        self._prepared: dict[int, tuple[Terms, tuple[list[list[_Alternative]], float] | None]] = {}

    def _query(self, query: Terms) -> tuple[list[list[_Alternative]], float] | None:
        """The query's groups as alternatives of token ids (unknown tokens dropped), and the normalising factor.

        A group's upper bound is its best alternative's; a phrase's is the mean of its known words' best scores,
        while its score divides by all its words: a word no document has is one every document lacks."""
        groups = _groups(query)
        vocab = self.bm25.vocab_dict
        known: list[list[_Alternative]] = []
        upper = 0.0
        for group in groups:
            alternatives = []
            for alternative in group:
                words = alternative.split(" ")
                ids = np.asarray([vocab[w] for w in words if w in vocab], dtype=np.int64)
                if ids.size:
                    alternatives.append(_Alternative(ids, 1.0 / len(words)))
            if alternatives:
                known.append(alternatives)
                upper += max(float(self.token_max[a.ids].mean()) for a in alternatives)
        if not known or upper <= 0:
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
        phrase = np.zeros(len(self.items), dtype=np.float32)
        for alternatives in known:
            if len(alternatives) == 1 and alternatives[0].plain:
                t = alternatives[0].ids[0]
                lo, hi = indptr[t], indptr[t + 1]
                total[indices[lo:hi]] += data[lo:hi]
                continue
            # A term's postings hold each row once, so a plain fancy-indexed maximum is exact per alternative (no
            # ``np.maximum.at``, which is slow on the long postings of common terms in a large corpus).
            touched = []
            for a in alternatives:
                if a.plain:
                    lo, hi = indptr[a.ids[0]], indptr[a.ids[0] + 1]
                    rows = indices[lo:hi]
                    best[rows] = np.maximum(best[rows], data[lo:hi])
                else:
                    parts = []
                    for t in a.ids:
                        lo, hi = indptr[t], indptr[t + 1]
                        phrase[indices[lo:hi]] += data[lo:hi] * a.weight
                        parts.append(indices[lo:hi])
                    rows = np.concatenate(parts)
                    best[rows] = np.maximum(best[rows], phrase[rows])
                    phrase[rows] = 0.0
                touched.append(rows)
            rows = np.concatenate(touched)
            # Repeated rows all compute the same total + best, so the buffered += adds each row's best once.
            total[rows] += best[rows]
            best[rows] = 0.0
        return total * factor

    def _csc(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        scores = self.bm25.scores
        return scores["data"], scores["indices"], scores["indptr"]

    def _prepared_query(self, query: Terms) -> tuple[list[list[_Alternative]], float] | None:
        entry = self._prepared.get(id(query))
        if entry is not None and entry[0] is query:
            return entry[1]
        if len(self._prepared) >= PREPARED_QUERIES:
            self._prepared.clear()
        q = self._query(query)
        self._prepared[id(query)] = (query, q)
        return q

    def score_one(self, query: Terms, item_id: int) -> float:
        """One item's normalised score, read straight from the sparse matrix (a binary search per term). Pass the
        same query object again to reuse its preparation (it must not be changed in between)."""
        row = self.row_of.get(item_id)
        q = self._prepared_query(query) if row is not None else None
        if q is None:
            return 0.0
        known, factor = q
        data, indices, indptr = self._csc()

        def score(t: int) -> float:
            lo, hi = int(indptr[t]), int(indptr[t + 1])
            j = lo + int(np.searchsorted(indices[lo:hi], row))
            return float(data[j]) if j < hi and indices[j] == row else 0.0

        total = 0.0
        for alternatives in known:
            total += max(sum(score(int(t)) for t in a.ids) * a.weight for a in alternatives)
        return total * factor


@dataclass(frozen=True, slots=True)
class _Alternative:
    """One alternative of a query term, as token ids: a token (weight 1), or a phrase's known words, each
    weighing 1 / the phrase's length."""

    ids: np.ndarray
    weight: float

    @property
    def plain(self) -> bool:
        return len(self.ids) == 1 and self.weight == 1.0


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
        """Query terms (or, for a group, its alternatives) that occur in the item, in query order, no repeats; a
        phrase occurs when all its words do."""
        doc = set(self._tokens.get(item_id, ()))
        return list(
            dict.fromkeys(
                t for group in _groups(query_tokens) for t in group if all(w in doc for w in t.split(" "))
            )
        )
