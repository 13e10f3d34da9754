"""The dense index, exact and approximate (IVF), against brute-force search over the same vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from matcher.matching.dense import PASSAGE_SLOTS, DenseIndex

pytestmark = pytest.mark.backend_independent

DIM = 32


def _clustered(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, DIM))
    x = centres[rng.integers(0, 20, n)] + 0.6 * rng.standard_normal((n, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _filled(n: int) -> tuple[DenseIndex, np.ndarray]:
    vectors = _clustered(n)
    index = DenseIndex(DIM)
    index.upsert_many((i, vectors[i : i + 1]) for i in range(n))
    return index, vectors


def _exact(vectors: np.ndarray, query: np.ndarray, k: int, allowed: set[int] | None = None) -> list[int]:
    scores = vectors @ query
    order = [int(i) for i in np.argsort(-scores) if allowed is None or int(i) in allowed]
    return order[:k]


def test_approximate_search_keeps_recall_and_supports_every_write(tmp_path: Path) -> None:
    index, vectors = _filled(4000)
    queries = _clustered(50, seed=1)
    index.make_approximate()
    assert index.approximate and len(index) == 4000 and index.passage_count == 4000
    recall = np.mean(
        [len({h.item_id for h in index.search(q, 10)} & set(_exact(vectors, q, 10))) / 10 for q in queries]
    )
    assert recall >= 0.98, recall
    # Writes after the switch: replace, remove, reconstruct.
    index.upsert(7, vectors[8:9] * -1)
    assert np.allclose(index.vectors(7)[0], -vectors[8])
    index.remove([3, 4])
    assert 3 not in index and index.passage_count == 3998
    assert all(h.item_id not in (3, 4) for h in index.search(vectors[3], 20))
    # A narrow filter is scored exactly; a wide one still only returns allowed items.
    narrow = {10, 11, 12, 500}
    assert [h.item_id for h in index.search(queries[0], 3, narrow)] == _exact(vectors, queries[0], 3, narrow)
    wide = set(range(0, 4000, 2)) - {4}
    assert all(h.item_id in wide for h in index.search(queries[0], 10, wide))
    # A saved approximate index loads as one, with its items.
    path = tmp_path / "dense.faiss"
    index.save(path)
    again = DenseIndex.load(path, DIM)
    assert again.approximate and len(again) == len(index) and 7 in again and 3 not in again


def test_items_with_several_passages_survive_the_switch() -> None:
    vectors = _clustered(300)
    index = DenseIndex(DIM)
    index.upsert_many((i, vectors[3 * i : 3 * i + 3]) for i in range(100))
    index.make_approximate()
    assert len(index) == 100 and index.passage_count == 300
    assert index.vectors(5).shape == (3, DIM)
    best = index.search(vectors[3 * 5 + 2], 1)[0]
    assert (best.item_id, best.passage) == (5, 2)
    assert PASSAGE_SLOTS == 256


def test_scoring_listed_items_matches_brute_force_exact_and_approximate() -> None:
    """``score_items`` reads all listed items' passages in one batch: same scores and best passages as scoring
    each passage by hand, on the flat index and after the switch to IVF."""
    vectors = _clustered(900)
    index = DenseIndex(DIM)
    index.upsert_many((i, vectors[3 * i : 3 * i + 3]) for i in range(300))  # three passages per item
    query = _clustered(1, seed=5)[0]
    wanted = [5, 17, 17, 299, 1000, 42]  # a repeat and an item that is not indexed

    def by_hand() -> dict[int, tuple[float, int]]:
        out = {}
        for i in dict.fromkeys(wanted):
            if i < 300:
                sims = vectors[3 * i : 3 * i + 3] @ query
                out[i] = (float(sims.max()), int(sims.argmax()))
        return out

    for approximate in (False, True):
        if approximate:
            index.make_approximate()
        got = {i: (h.score, h.passage) for i, h in index.score_items(query, wanted).items()}
        assert got.keys() == by_hand().keys()
        for i, (score, passage) in by_hand().items():
            assert abs(got[i][0] - score) < 1e-5 and got[i][1] == passage
        top2 = index.score_items(query, [5], top=2)[5].score
        assert abs(top2 - float(np.sort(vectors[15:18] @ query)[-2:].mean())) < 1e-5
