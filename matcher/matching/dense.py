"""The dense channel: passage vectors of a corpus in a FAISS inner-product index.

Each item (platform or technology) owns up to ``PASSAGE_SLOTS`` passages; passage ``j`` of item ``i`` has FAISS
id ``i * PASSAGE_SLOTS + j``, so an item is removed with one range selector and a hit maps back to its item and
passage without a side table. Vectors are unit length, so scores are cosine similarities.

Search is exact (a flat index) until the corpus is large; ``make_approximate`` then moves the vectors into an
inverted-file index (IVF, flat codes: no precision is lost, only the lists not probed are skipped). At 150,000
passages exact search costs about 8 ms a query on 2 cores and IVF with 64 probes about 1 ms at recall@10 ≥ 0.99
(``scripts/bench.py`` measures it on real embeddings). IVF keeps ids itself and, with a hash-table direct map,
supports the same upsert, remove and reconstruct as the flat index.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import faiss
import numpy as np

PASSAGE_SLOTS = 256
#: Inverted lists probed per query by an approximate index (recall@10 against exact search is measured by bench).
DEFAULT_NPROBE = 64
#: With a filter allowing at most this many passages, an approximate index scores them exactly instead.
EXACT_SUBSET_PASSAGES = 5000


@dataclass(frozen=True, slots=True)
class DenseHit:
    item_id: int
    score: float
    passage: int


class DenseIndex:
    """Exact inner-product search over passage vectors, safe for concurrent readers and writers."""

    def __init__(
        self,
        dim: int,
        index: faiss.Index | None = None,
        nprobe: int = DEFAULT_NPROBE,
        storage: Literal["fp32", "fp16"] = "fp32",
    ) -> None:
        """``storage`` "fp16" halves the memory of an index that is only scored, never searched at scale (the
        English model's rows: a float16 cosine differs from float32 by about 1e-3, far below any ranking
        difference)."""
        self.dim = dim
        self.nprobe = nprobe
        if index is None:
            flat = (
                faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
                if storage == "fp16"
                else faiss.IndexFlatIP(dim)
            )
            index = faiss.IndexIDMap2(flat)
        self._index = index
        self._passages: dict[int, int] = {}
        self._lock = threading.RLock()
        if index is not None:
            for fid in _stored_ids(index).tolist():
                item = fid // PASSAGE_SLOTS
                self._passages[item] = max(self._passages.get(item, 0), fid % PASSAGE_SLOTS + 1)

    @property
    def approximate(self) -> bool:
        return isinstance(self._index, faiss.IndexIVF)

    def make_approximate(self, nlist: int | None = None) -> None:
        """Move every vector into a freshly trained IVF index (or retrain one). Callers hold off writers (the
        engine's write lock); searches go on against the old index until the swap."""
        with self._lock:
            ids, vectors = all_vectors(self._index, self.dim)
        n = len(ids)
        if n == 0:
            return
        nlist = nlist or int(min(4096, max(64, 4 * np.sqrt(n))))
        nlist = min(nlist, max(1, n // 39))  # faiss wants about 39 training points per list
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(self.dim), self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        sample = (
            vectors
            if n <= 64 * nlist
            else vectors[np.random.default_rng(0).choice(n, 64 * nlist, replace=False)]
        )
        ivf.train(sample)
        ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
        ivf.add_with_ids(vectors, ids)
        with self._lock:
            self._index = ivf

    def __len__(self) -> int:
        return len(self._passages)

    def __contains__(self, item_id: int) -> bool:
        return item_id in self._passages

    def item_ids(self) -> list[int]:
        with self._lock:
            return list(self._passages)

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
        # IVF's hash-table direct map removes by an explicit id array; the flat map scans every id, for which
        # the batch selector's hash lookup is the fast one.
        self._index.remove_ids(
            faiss.IDSelectorArray(fids) if self.approximate else faiss.IDSelectorBatch(fids)
        )
        for i in item_ids:
            del self._passages[i]

    def vectors(self, item_id: int) -> np.ndarray:
        """The passage vectors of one item (shape ``(passages, dim)``)."""
        with self._lock:
            n = self._passages.get(item_id, 0)
            if n == 0:
                return np.zeros((0, self.dim), dtype=np.float32)
            return self._index.reconstruct_batch(item_id * PASSAGE_SLOTS + np.arange(n, dtype=np.int64))

    def search(self, query: np.ndarray, k: int, allowed: Iterable[int] | None = None) -> list[DenseHit]:
        """Best ``k`` items for one query vector, each with its best passage; ``allowed`` restricts the items."""
        query = np.asarray(query, dtype=np.float32).reshape(1, -1)
        with self._lock:
            if self._index.ntotal == 0 or k <= 0:
                return []
            params = None
            approximate = self.approximate
            if approximate:
                params = faiss.SearchParametersIVF(nprobe=self.nprobe)
            if allowed is not None:
                allowed_ids = [
                    i * PASSAGE_SLOTS + j for i in allowed for j in range(self._passages.get(i, 0))
                ]
                if not allowed_ids:
                    return []
                if approximate and len(allowed_ids) <= EXACT_SUBSET_PASSAGES:
                    return self._exact_subset(query[0], allowed_ids, k)
                selector = faiss.IDSelectorBatch(np.asarray(allowed_ids, dtype=np.int64))
                # A filter empties many lists; probing more of them keeps about k survivors.
                params = (
                    faiss.SearchParametersIVF(sel=selector, nprobe=self.nprobe * 4)
                    if approximate
                    else faiss.SearchParameters(sel=selector)
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

    def _exact_subset(self, query: np.ndarray, fids: list[int], k: int) -> list[DenseHit]:
        """Exact search over a few passages (a narrow filter on an approximate index)."""
        vectors = np.vstack([self._index.reconstruct(int(f)) for f in fids])
        scores = vectors @ query
        best: dict[int, DenseHit] = {}
        for r in np.argsort(-scores).tolist():
            item, passage = divmod(fids[r], PASSAGE_SLOTS)
            if item not in best:
                best[item] = DenseHit(item, float(scores[r]), passage)
                if len(best) == k:
                    break
        return list(best.values())

    def score_items(self, query: np.ndarray, item_ids: Iterable[int], top: int = 1) -> dict[int, DenseHit]:
        """Exact score of ``query`` against each listed item (items not indexed are skipped): the best
        passage's similarity, or with ``top`` > 1 the mean of the ``top`` best passages.

        The passages of all items are read in one batch (one lock, one call into FAISS): a match scores a
        hundred or more candidates this way, and per-item reads cost more than the arithmetic."""
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        with self._lock:
            items = [i for i in dict.fromkeys(item_ids) if self._passages.get(i, 0)]
            if not items:
                return {}
            counts = [self._passages[i] for i in items]
            fids = np.concatenate(
                [i * PASSAGE_SLOTS + np.arange(n, dtype=np.int64) for i, n in zip(items, counts, strict=True)]
            )
            vectors = self._index.reconstruct_batch(fids)
        sims = vectors @ query
        out: dict[int, DenseHit] = {}
        start = 0
        for item, n in zip(items, counts, strict=True):
            part = sims[start : start + n]
            start += n
            j = int(np.argmax(part))
            score = float(part[j]) if top <= 1 else float(np.sort(part)[::-1][:top].mean())
            out[item] = DenseHit(item, score, j)
        return out

    # ---- persistence ---------------------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        with self._lock:
            faiss.write_index(self._index, str(tmp))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path, dim: int, nprobe: int = DEFAULT_NPROBE) -> DenseIndex:
        index = faiss.read_index(str(path))
        if index.d != dim:
            raise ValueError(f"index {path} has dimension {index.d}, expected {dim}")
        return cls(dim, index, nprobe)


def _stored_ids(index: faiss.Index) -> np.ndarray:
    """Every FAISS id an index holds (flat under an id map, or IVF's inverted lists)."""
    if isinstance(index, faiss.IndexIVF):
        lists = index.invlists
        parts = [
            faiss.rev_swig_ptr(lists.get_ids(lst), lists.list_size(lst)).copy()
            for lst in range(index.nlist)
            if lists.list_size(lst)
        ]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    if hasattr(index, "id_map"):
        return faiss.vector_to_array(index.id_map)
    return np.zeros(0, dtype=np.int64)


def all_vectors(index: faiss.Index, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) of every passage, read straight from the index's storage."""
    if isinstance(index, faiss.IndexIVF):
        lists = index.invlists
        ids, rows = [], []
        for lst in range(index.nlist):
            size = lists.list_size(lst)
            if size:
                ids.append(faiss.rev_swig_ptr(lists.get_ids(lst), size).copy())
                codes = faiss.rev_swig_ptr(lists.get_codes(lst), size * lists.code_size).copy()
                rows.append(codes.view(np.float32).reshape(size, dim))
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros((0, dim), dtype=np.float32)
        return np.concatenate(ids), np.vstack(rows)
    ids = _stored_ids(index)
    vectors = index.index.reconstruct_n(0, index.ntotal) if index.ntotal else np.zeros((0, dim), np.float32)
    return ids, np.asarray(vectors, dtype=np.float32)
