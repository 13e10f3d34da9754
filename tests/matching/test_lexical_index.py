"""The segmented BM25 index: writes land in a small delta, merges rebuild main, results stay right."""

from __future__ import annotations

import random

import pytest

from matcher.matching import lexical
from matcher.matching.lexical import LexicalIndex

pytestmark = pytest.mark.backend_independent

WORDS = [f"w{i}" for i in range(300)]


def _doc(rnd: random.Random) -> list[str]:
    return rnd.sample(WORDS, 12)


def test_writes_after_a_merge_are_searchable_and_removals_gone() -> None:
    rnd = random.Random(1)
    index = LexicalIndex()
    index.upsert_many((i, _doc(rnd)) for i in range(2000))
    index.search(["w1"], 5)  # builds main
    index.upsert_many([(7, ["solidoxide", "electrolyser"]), (5000, ["perovskite", "tandem"])])
    index.remove([3])
    assert [h.item_id for h in index.search(["perovskite"], 3)] == [5000]
    assert [h.item_id for h in index.search(["solidoxide"], 3)] == [7]
    assert all(h.item_id != 3 for h in index.search(WORDS, 2000))
    assert 7 not in {h.item_id for h in index.search(WORDS, 2000)}  # its old words no longer find it
    assert index.score_items(["perovskite"], [5000, 7, 3]) == {
        5000: index.score_items(["perovskite"], [5000])[5000],
        7: 0.0,
        3: 0.0,
    }
    assert index.search(["perovskite"], 3, allowed={7}) == []


def test_a_merged_index_scores_exactly_like_a_fresh_one() -> None:
    rnd = random.Random(2)
    index = LexicalIndex()
    docs = {i: _doc(rnd) for i in range(1000)}
    index.upsert_many(docs.items())
    index.search([], 1)
    # Enough writes to pass the merge threshold: the next search rebuilds main from everything.
    for i in range(1000, 1000 + lexical.MERGE_MIN + 1):
        docs[i] = _doc(rnd)
    index.upsert_many((i, docs[i]) for i in range(1000, 1000 + lexical.MERGE_MIN + 1))
    fresh = LexicalIndex()
    fresh.upsert_many(docs.items())
    query = rnd.sample(WORDS, 4)
    assert index.search(query, 20) == fresh.search(query, 20)


def test_an_updated_item_is_scored_by_its_new_tokens_only() -> None:
    index = LexicalIndex()
    index.upsert_many(
        [(1, ["alpha", "beta"]), (2, ["gamma", "delta"])] + [(i, ["filler"]) for i in range(3, 60)]
    )
    index.search([], 1)
    index.upsert_many([(1, ["epsilon"])])
    assert index.score_items(["alpha"], [1]) == {1: 0.0}
    assert index.score_items(["epsilon"], [1])[1] > 0
    assert [h.item_id for h in index.search(["alpha", "gamma"], 5)] == [2]


def test_a_restored_index_scores_like_the_one_it_was_saved_from() -> None:
    import pickle

    rnd = random.Random(3)
    index = LexicalIndex()
    docs = {i: _doc(rnd) for i in range(800)}
    index.upsert_many(docs.items())
    index.search([], 1)
    index.upsert_many([(5, ["novel", "words"])])  # in the delta at save time
    docs[5] = ["novel", "words"]
    state = pickle.loads(pickle.dumps(index.snapshot_state()))
    del docs[9]  # gone before the restart
    restored = LexicalIndex.restored({i: list(t) for i, t in docs.items()}, state)
    index.remove([9])
    for query in (["novel"], rnd.sample(WORDS, 3), rnd.sample(WORDS, 5)):
        assert restored.search(query, 10) == index.search(query, 10)
    assert 9 not in {h.item_id for h in restored.search(WORDS, 800)}


def test_groups_of_alternatives_score_each_row_by_its_best_alternative_once() -> None:
    """Whole-segment scoring (used by search) agrees with the per-row reference for queries mixing plain
    terms and groups whose alternatives match the same rows."""
    rnd = random.Random(4)
    index = LexicalIndex()
    index.upsert_many((i, _doc(rnd)) for i in range(400))
    query = ["w1", ("w2", "w3", "w4"), ("w5", "w2"), ("nosuchword", "w6")]
    index.search(query, 1)  # builds main
    ids = list(range(400))
    whole = index.score_items(query, ids)  # more than 8 items: scored through the whole segment
    assert any(v > 0 for v in whole.values())
    for i in ids:
        assert abs(whole[i] - index.score_items(query, [i])[i]) < 1e-6  # one item: the per-row reference
