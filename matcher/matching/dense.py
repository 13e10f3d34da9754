"""The dense channel: passage vectors of a corpus in a FAISS inner-product index.

Each item (platform or technology) owns up to ``PASSAGE_SLOTS`` passages; passage ``j`` of item ``i`` has FAISS
id ``i * PASSAGE_SLOTS + j``, so an item is removed with one range selector and a hit maps back to its item and
passage without a side table. Vectors are unit length, so scores are cosine similarities.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

PASSAGE_SLOTS = 256


@dataclass(frozen=True, slots=True)
class DenseHit:
    item_id: int
    score: float
    passage: int


class DenseIndex:
    """Exact inner-product search over passage vectors, safe for concurrent readers and writers."""

    def __init__(self, dim: int, index: faiss.Index | None = None) -> None:
        self.dim = dim
        self._index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._passages: dict[int, int] = {}
        self._lock = threading.RLock()
        if index is not None:
            ids = (
                faiss.vector_to_array(index.id_map)
                if hasattr(index, "id_map")
                else np.array([], dtype=np.int64)
            )
            for fid in ids.tolist():
                item = fid // PASSAGE_SLOTS
                self._passages[item] = max(self._passages.get(item, 0), fid % PASSAGE_SLOTS + 1)

    def __len__(self) -> int:
        return len(self._passages)

    def __contains__(self, item_id: int) -> bool:
        return item_id in self._passages

    @property
    def passage_count(self) -> int:
        return int(self._index.ntotal)

    def upsert(self, item_id: int, vectors: np.ndarray) -> None:
        """Replace the passages of ``item_id`` with ``vectors`` (one row per passage)."""
        self.upsert_many([(item_id, vectors)])

    def upsert_many(self, items: Iterable[tuple[int, np.ndarray]]) -> None:
        rows: list[np.ndarray] = []
        ids: list[np.ndarray] = []
        touched: dict[int, int] = {}
        for item_id, vectors in items:
            n = min(len(vectors), PASSAGE_SLOTS)
            if n == 0:
                continue
            rows.append(np.asarray(vectors[:n], dtype=np.float32))
            ids.append(item_id * PASSAGE_SLOTS + np.arange(n, dtype=np.int64))
            touched[item_id] = n
        if not touched:
            return
        with self._lock:
            self._remove_locked([i for i in touched if i in self._passages])
            self._index.add_with_ids(np.vstack(rows), np.concatenate(ids))
            self._passages.update(touched)

    def remove(self, item_ids: Iterable[int]) -> None:
        with self._lock:
            self._remove_locked([i for i in item_ids if i in self._passages])

    def _remove_locked(self, item_ids: list[int]) -> None:
        if not item_ids:
            return
        fids = np.concatenate(
            [i * PASSAGE_SLOTS + np.arange(self._passages[i], dtype=np.int64) for i in item_ids]
        )
        self._index.remove_ids(faiss.IDSelectorBatch(fids))
        for i in item_ids:
            del self._passages[i]

    def vectors(self, item_id: int) -> np.ndarray:
        """The passage vectors of one item (shape ``(passages, dim)``)."""
        with self._lock:
            n = self._passages.get(item_id, 0)
            if n == 0:
                return np.zeros((0, self.dim), dtype=np.float32)
            return np.vstack([self._index.reconstruct(int(item_id * PASSAGE_SLOTS + j)) for j in range(n)])

    def search(self, query: np.ndarray, k: int, allowed: Iterable[int] | None = None) -> list[DenseHit]:
        """Best ``k`` items for one query vector, each with its best passage; ``allowed`` restricts the items."""
        query = np.asarray(query, dtype=np.float32).reshape(1, -1)
        with self._lock:
            if self._index.ntotal == 0 or k <= 0:
                return []
            params = None
            if allowed is not None:
                allowed_ids = [
                    i * PASSAGE_SLOTS + j for i in allowed for j in range(self._passages.get(i, 0))
                ]
                if not allowed_ids:
                    return []
                params = faiss.SearchParameters(
                    sel=faiss.IDSelectorBatch(np.asarray(allowed_ids, dtype=np.int64))
                )
            # Over-fetch passages so that about k distinct items survive the per-item max.
            kk = min(self._index.ntotal, max(k * 2, k + 16))
            scores, fids = self._index.search(query, kk, params=params)
        best: dict[int, DenseHit] = {}
        for score, fid in zip(scores[0].tolist(), fids[0].tolist(), strict=True):
            if fid < 0:
                continue
            item, passage = divmod(fid, PASSAGE_SLOTS)
            if item not in best:
                best[item] = DenseHit(item, float(score), passage)
        return sorted(best.values(), key=lambda h: -h.score)[:k]

    def score_items(self, query: np.ndarray, item_ids: Iterable[int], top: int = 1) -> dict[int, DenseHit]:
        """Exact score of ``query`` against each listed item (items not indexed are skipped): the best
        passage's similarity, or with ``top`` > 1 the mean of the ``top`` best passages."""
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        out: dict[int, DenseHit] = {}
        for item in item_ids:
            vecs = self.vectors(item)
            if len(vecs) == 0:
                continue
            sims = vecs @ query
            j = int(np.argmax(sims))
            score = float(sims[j]) if top <= 1 else float(np.sort(sims)[::-1][:top].mean())
            out[item] = DenseHit(item, score, j)
        return out

    # ---- persistence ---------------------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        with self._lock:
            faiss.write_index(self._index, str(tmp))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path, dim: int) -> DenseIndex:
        index = faiss.read_index(str(path))
        if index.d != dim:
            raise ValueError(f"index {path} has dimension {index.d}, expected {dim}")
        return cls(dim, index)
