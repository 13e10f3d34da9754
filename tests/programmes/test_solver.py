"""The assignment solver against an exhaustive optimum on small random instances: it never breaks a constraint,
it always reaches the best total, and the greedy baseline never beats it."""

from __future__ import annotations

from collections import Counter
from functools import cache
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.programmes.solver import Candidate, Solution, eligible, greedy, solve

pytestmark = pytest.mark.backend_independent

scores = st.floats(0, 1).map(lambda s: round(s, 3))
capacity = st.one_of(st.none(), st.integers(0, 3))


@st.composite
def instances(draw: st.DrawFn) -> tuple[list[Candidate], int, dict[int, int | None], float]:
    """Up to 5 technologies x 5 platforms: each pair scored or not (some twice), each platform's slots, k <= 2."""
    techs = range(1, draw(st.integers(1, 5)) + 1)
    plats = range(101, 101 + draw(st.integers(1, 5)))
    candidates = [
        Candidate(t, p, draw(scores))
        for t in techs
        for p in plats
        for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2])))
    ]
    caps = {p: draw(capacity) for p in plats}
    return candidates, draw(st.integers(1, 2)), caps, draw(st.sampled_from([0.0, 0.2, 0.5, 0.8]))


def exhaustive_optimum(
    candidates: list[Candidate], k: int, caps: dict[int, int | None], min_score: float
) -> float:
    """Every way of giving each technology at most k of its fitting platforms, over the platforms' slots left."""
    allowed = {(c.technology_id, c.platform_id): c.score for c in eligible(candidates, caps, min_score)}
    techs = sorted({t for t, _ in allowed})
    plats = sorted({p for _, p in allowed})
    options = {
        t: [s for n in range(k + 1) for s in combinations([p for p in plats if (t, p) in allowed], n)]
        for t in techs
    }

    @cache
    def best(i: int, used: tuple[int, ...]) -> float:
        if i == len(techs):
            return 0.0
        top = 0.0
        for chosen in options[techs[i]]:
            after = list(used)
            for p in chosen:
                after[plats.index(p)] += 1
            if all(caps.get(p) is None or after[j] <= caps[p] for j, p in enumerate(plats)):  # type: ignore[operator]
                top = max(top, sum(allowed[(techs[i], p)] for p in chosen) + best(i + 1, tuple(after)))
        return top

    return best(0, (0,) * len(plats))


def assert_feasible(
    solution: Solution, candidates: list[Candidate], k: int, caps: dict[int, int | None], min_score: float
) -> None:
    offered = {(c.technology_id, c.platform_id, c.score) for c in candidates}
    pairs = [(c.technology_id, c.platform_id) for c in solution.pairs]
    assert len(pairs) == len(set(pairs)), "a technology got the same platform twice"
    assert all((c.technology_id, c.platform_id, c.score) in offered for c in solution.pairs)
    assert all(c.score >= min_score for c in solution.pairs)
    assert all(n <= k for n in Counter(c.technology_id for c in solution.pairs).values())
    for platform, n in Counter(c.platform_id for c in solution.pairs).items():
        assert caps.get(platform) is None or n <= caps[platform], f"platform {platform} over its slots"  # type: ignore[operator]
    assert solution.objective == pytest.approx(sum(c.score for c in solution.pairs))


@settings(max_examples=300, deadline=None)
@given(instances())
def test_assignment_is_feasible_and_optimal_and_never_below_greedy(
    instance: tuple[list[Candidate], int, dict[int, int | None], float],
) -> None:
    candidates, k, caps, min_score = instance
    optimum = solve(candidates, k, caps, min_score)
    baseline = greedy(candidates, k, caps, min_score)
    assert_feasible(optimum, candidates, k, caps, min_score)
    assert_feasible(baseline, candidates, k, caps, min_score)
    assert optimum.objective == pytest.approx(exhaustive_optimum(candidates, k, caps, min_score), abs=1e-9)
    assert optimum.objective >= baseline.objective - 1e-9


def test_optimum_beats_greedy_where_the_best_pair_blocks_two_good_ones() -> None:
    """One slot each: greedy gives platform 1 to the 0.9 pair and leaves technology 2 with nothing; the optimum
    gives it to technology 2 and technology 1 takes platform 2."""
    candidates = [Candidate(1, 1, 0.9), Candidate(1, 2, 0.8), Candidate(2, 1, 0.85)]
    caps = {1: 1, 2: 1}
    assert greedy(candidates, 1, caps).objective == pytest.approx(0.9)
    best = solve(candidates, 1, caps)
    assert best.objective == pytest.approx(1.65)
    assert best.by_technology() == {1: [Candidate(1, 2, 0.8)], 2: [Candidate(2, 1, 0.85)]}
