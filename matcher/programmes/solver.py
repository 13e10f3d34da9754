"""The assignment problem of a programme, and its two solutions: the optimum and the greedy baseline.

Given scored (technology, platform) candidates, each technology may take up to ``per_technology`` distinct
platforms scoring at least ``min_score`` and each platform at most its slots; the optimum maximises the total
score. This is a bipartite b-matching: its constraint matrix (one row per technology, one per limited platform,
one column per candidate pair) is totally unimodular, so the linear programme already has an integral optimum.
It is handed to HiGHS through ``scipy.optimize.milp`` with integrality declared, which guarantees a 0/1 answer
whatever vertex the simplex ends on; no flow algorithm is written here.

The greedy baseline takes pairs from the highest score down while both sides have room: what a person filling a
fair's table by hand would do, and the figure the optimum is compared with.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_matrix


@dataclass(frozen=True, slots=True)
class Candidate:
    """One pair the matcher scored: ``score`` is the calibrated score its matches show."""

    technology_id: int
    platform_id: int
    score: float


@dataclass(frozen=True, slots=True)
class Solution:
    """The chosen pairs, grouped by technology (in order of first appearance), best score first within each, and
    their total score."""

    pairs: tuple[Candidate, ...]
    objective: float

    def by_technology(self) -> dict[int, list[Candidate]]:
        out: dict[int, list[Candidate]] = defaultdict(list)
        for pair in self.pairs:
            out[pair.technology_id].append(pair)
        return dict(out)


#: A platform's slots: how many technologies it may take; None is no limit.
Capacities = Mapping[int, int | None]


def eligible(candidates: Iterable[Candidate], capacities: Capacities, min_score: float) -> list[Candidate]:
    """The pairs either solution may choose: one per (technology, platform) (its highest score if listed twice,
    so "distinct platforms" holds by construction), scoring at least ``min_score`` and above 0 (a pair scored 0 is
    no fit and adds nothing), on a platform with at least one slot. A platform absent from ``capacities`` has no
    limit."""
    best: dict[tuple[int, int], Candidate] = {}
    for c in candidates:
        key = (c.technology_id, c.platform_id)
        fits = c.score > 0 and c.score >= min_score and capacities.get(c.platform_id, None) != 0
        if fits and (key not in best or c.score > best[key].score):
            best[key] = c
    return list(best.values())


def solve(
    candidates: Iterable[Candidate], per_technology: int, capacities: Capacities, min_score: float = 0.0
) -> Solution:
    """The assignment of the highest total score under the constraints (see the module's docstring)."""
    edges = eligible(candidates, capacities, min_score)
    if not edges or per_technology < 1:
        return Solution((), 0.0)
    techs = {t: i for i, t in enumerate(dict.fromkeys(e.technology_id for e in edges))}
    load = Counter(e.platform_id for e in edges)
    # Only platforms that could be over-filled need a row; the others' limit can never bind.
    binding = [p for p, n in load.items() if capacities.get(p) is not None and capacities[p] < n]  # type: ignore[operator]
    limited = {p: i for i, p in enumerate(binding)}
    rows, cols = [], []
    for j, e in enumerate(edges):
        rows.append(techs[e.technology_id])
        cols.append(j)
        if e.platform_id in limited:
            rows.append(len(techs) + limited[e.platform_id])
            cols.append(j)
    matrix = csr_matrix(
        (np.ones(len(rows)), (np.array(rows), np.array(cols))), shape=(len(techs) + len(limited), len(edges))
    )
    upper = np.array(
        [per_technology] * len(techs) + [capacities[p] for p in limited],  # type: ignore[misc]
        dtype=float,
    )
    scores = np.array([e.score for e in edges])
    result = milp(
        -scores,
        constraints=LinearConstraint(matrix, -np.inf, upper),
        integrality=np.ones(len(edges)),
        bounds=Bounds(0, 1),
        options={"mip_rel_gap": 0.0},
    )
    if result.x is None or not result.success:
        raise RuntimeError(f"HiGHS found no assignment: {result.message}")
    chosen = [e for e, x in zip(edges, result.x, strict=True) if x > 0.5]
    return _solution(chosen)


def greedy(
    candidates: Iterable[Candidate], per_technology: int, capacities: Capacities, min_score: float = 0.0
) -> Solution:
    """Highest scores first, each pair taken while its technology and its platform both have room."""
    taken: Counter[int] = Counter()
    used: Counter[int] = Counter()
    chosen = []
    for e in sorted(
        eligible(candidates, capacities, min_score),
        key=lambda c: (-c.score, c.technology_id, c.platform_id),
    ):
        cap = capacities.get(e.platform_id)
        if taken[e.technology_id] < per_technology and (cap is None or used[e.platform_id] < cap):
            chosen.append(e)
            taken[e.technology_id] += 1
            used[e.platform_id] += 1
    return _solution(chosen)


def _solution(chosen: list[Candidate]) -> Solution:
    order = {t: i for i, t in enumerate(dict.fromkeys(c.technology_id for c in chosen))}
    pairs = sorted(chosen, key=lambda c: (order[c.technology_id], -c.score, c.platform_id))
    return Solution(tuple(pairs), round(float(sum(c.score for c in pairs)), 6))
