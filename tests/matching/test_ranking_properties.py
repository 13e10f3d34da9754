"""Ranking rules as properties: relevance first, bounded policy factors, explanations that add up."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher import NeedFacts, default_taxonomy
from matcher.matching.calibration import load_calibration
from matcher.matching.fusion import Relevance
from matcher.matching.ranking import TIE_DECIMALS, PlatformFacts, Ranker
from matcher.settings import RankWeights

pytestmark = pytest.mark.backend_independent

TAX = default_taxonomy()
WEIGHTS = RankWeights()
RANKER = Ranker(WEIGHTS, TAX)

directions = st.lists(st.sampled_from(sorted(TAX.directions)), max_size=3, unique=True)
tiers = st.sampled_from(TAX.tier_codes)
provinces = st.sampled_from(TAX.province_codes)
trl = st.integers(1, 9)


@st.composite
def platforms(draw: st.DrawFn, pid: int = 1) -> PlatformFacts:
    lo = draw(st.one_of(st.none(), trl))
    hi = draw(st.one_of(st.none(), st.integers(lo or 1, 9)))
    return PlatformFacts(
        id=pid,
        tier=draw(tiers),
        area=draw(st.sampled_from(TAX.area_codes)),
        directions=tuple(draw(directions)),
        service_types=tuple(draw(st.lists(st.sampled_from(TAX.service_type_codes), max_size=5, unique=True))),
        province=draw(st.one_of(st.none(), provinces)),
        trl_min=lo,
        trl_max=hi,
        capacity=draw(st.one_of(st.none(), st.integers(0, 10))),
    )


needs = st.builds(
    NeedFacts,
    directions=st.lists(st.sampled_from(sorted(TAX.directions)), max_size=2, unique=True).map(tuple),
    trl=st.one_of(st.none(), trl),
    provinces=st.lists(provinces, max_size=2, unique=True).map(tuple),
    service_types=st.lists(st.sampled_from(TAX.service_type_codes), max_size=3, unique=True).map(tuple),
)
relevances = st.builds(Relevance, semantic=st.floats(0, 1), lexical=st.floats(0, 0.3)).filter(
    lambda r: r.total <= 1.0
)
#: A few relevances many candidates share: with equal facts, exact ties.
FEW_RELEVANCES = [Relevance(semantic=0.5, lexical=0.1), Relevance(semantic=0.3, lexical=0.0)]


CALIBRATED = Ranker(WEIGHTS, TAX, calibration=load_calibration("use-multilingual-v3+all-minilm-l6-v2"))


@settings(max_examples=300, deadline=None)
@given(need=needs, platform=platforms(), relevance=relevances)
def test_explanation_sums_to_score(need: NeedFacts, platform: PlatformFacts, relevance: Relevance) -> None:
    scored = RANKER.score(need, platform, relevance)
    assert sum(scored.explanation.values()) == pytest.approx(scored.score, abs=1e-5)
    calibrated = CALIBRATED.score(need, platform, relevance)
    assert sum(calibrated.explanation.values()) == pytest.approx(calibrated.score, abs=1e-5)
    assert 0.0 <= calibrated.score <= 1.0
    assert set(calibrated.explanation) - set(scored.explanation) == {"calibration"}
    assert set(scored.explanation) == {
        "semantic",
        "lexical",
        "sector_fit",
        "sector_priority",
        "tier",
        "region",
        "trl_fit",
        "service_types",
        "capacity",
    }


@settings(max_examples=500, deadline=None)
@given(
    need=needs,
    base=platforms(),
    tier_a=tiers,
    tier_b=tiers,
    dirs_a=directions,
    dirs_b=directions,
    rel_b=st.floats(0, 1 - WEIGHTS.relevance_margin - 0.001),
    gap=st.floats(WEIGHTS.relevance_margin + 0.0001, 1),
)
def test_tier_and_priority_never_lift_a_clearly_less_relevant_platform(
    need: NeedFacts,
    base: PlatformFacts,
    tier_a: str,
    tier_b: str,
    dirs_a: list[str],
    dirs_b: list[str],
    rel_b: float,
    gap: float,
) -> None:
    """Two platforms alike in every fit factor; B may have the best tier and a priority sector. If A is more
    relevant by more than the margin, A still ranks first."""
    rel_a = min(1.0, rel_b + gap)
    if rel_a - rel_b <= WEIGHTS.relevance_margin:
        return
    no_fit = NeedFacts(trl=need.trl, provinces=need.provinces, service_types=need.service_types)
    a = PlatformFacts(**{**_facts(base), "id": 1, "tier": tier_a, "directions": tuple(dirs_a)})
    b = PlatformFacts(**{**_facts(base), "id": 2, "tier": tier_b, "directions": tuple(dirs_b)})
    score_a = RANKER.score(no_fit, a, Relevance(rel_a, 0.0)).score
    score_b = RANKER.score(no_fit, b, Relevance(rel_b, 0.0)).score
    assert score_a > score_b


@settings(max_examples=300, deadline=None)
@given(need=needs, platform=platforms(), low=st.floats(0, 1), high=st.floats(0, 1))
def test_more_relevant_scores_higher_when_all_else_is_equal(
    need: NeedFacts, platform: PlatformFacts, low: float, high: float
) -> None:
    low, high = sorted((low, high))
    s_low = RANKER.score(need, platform, Relevance(low, 0.0)).score
    s_high = RANKER.score(need, platform, Relevance(high, 0.0)).score
    assert s_high >= s_low - 1e-9


def test_tier_reorders_platforms_of_similar_relevance() -> None:
    national = PlatformFacts(id=1, tier="national", area="emerging_future")
    reserve = PlatformFacts(id=2, tier="reserve", area="emerging_future")
    need = NeedFacts()
    assert (
        RANKER.score(need, national, Relevance(0.70, 0)).score
        > RANKER.score(need, reserve, Relevance(0.71, 0)).score
    )


def test_weights_that_would_let_policy_outweigh_relevance_are_refused() -> None:
    with pytest.raises(ValueError, match="relevance_margin"):
        RankWeights(tier=0.2, sector_priority=0.2)


def test_fit_factors_follow_the_request() -> None:
    p = PlatformFacts(
        id=1,
        tier="provincial",
        area="emerging_future",
        directions=("hydrogen",),
        service_types=("process",),
        province="guangdong",
        trl_min=4,
        trl_max=6,
        capacity=0,
    )
    good = RANKER.score(
        NeedFacts(directions=("hydrogen",), trl=5, provinces=("guangdong",), service_types=("process",)),
        p,
        Relevance(0.5, 0),
    ).explanation
    bad = RANKER.score(
        NeedFacts(directions=("steel",), trl=9, provinces=("beijing",), service_types=("design",)),
        p,
        Relevance(0.5, 0),
    ).explanation
    assert good["sector_fit"] > 0 and bad["sector_fit"] == 0
    assert good["trl_fit"] > 0 > bad["trl_fit"]
    assert good["region"] > 0 and bad["region"] == 0
    assert good["service_types"] > 0 and bad["service_types"] == 0
    assert good["capacity"] < 0
    assert good["sector_priority"] > 0 and bad["sector_priority"] == 0


def _facts(p: PlatformFacts) -> dict:
    return {k: getattr(p, k) for k in PlatformFacts.__slots__}


@settings(max_examples=300, deadline=None)
@given(need=needs, platform=platforms(), low=st.floats(0, 1), high=st.floats(0, 1))
def test_calibration_is_monotonic_in_relevance(
    need: NeedFacts, platform: PlatformFacts, low: float, high: float
) -> None:
    low, high = sorted((low, high))
    s_low = CALIBRATED.score(need, platform, Relevance(low, 0.0))
    s_high = CALIBRATED.score(need, platform, Relevance(high, 0.0))
    assert s_high.score >= s_low.score - 1e-9
    assert s_high.raw >= s_low.raw - 1e-9


@settings(max_examples=300, deadline=None)
@given(need=needs, platform=platforms(), low=st.floats(0, 1), high=st.floats(0, 1), best=st.floats(0, 1.3))
def test_within_one_query_calibration_keeps_the_order(
    need: NeedFacts, platform: PlatformFacts, low: float, high: float, best: float
) -> None:
    """Calibration reads a raw score against the query's best; for a fixed best, it never reorders."""
    low, high = sorted((low, high))
    s_low = CALIBRATED.score(need, platform, Relevance(low, 0.0), best)
    s_high = CALIBRATED.score(need, platform, Relevance(high, 0.0), best)
    assert s_high.score >= s_low.score - 1e-9
    assert 0.0 <= s_low.score <= 1.0


def test_calibration_fit_learns_the_gap_and_the_query_shape_and_stays_monotonic() -> None:
    from matcher.matching.calibration import QueryShape, fit_calibration

    # Long queries score every platform higher than short ones. Among long ones, a best of 0.9 has a fit (its
    # first result) and a best of 0.7 has none; among short ones, 0.5 and 0.3. A good calibration reads each
    # query's best against queries of its own length, and a result far below its query's best as less likely.
    long, short = QueryShape(0.0, 60), QueryShape(0.0, 4)
    raw, best, shapes, grades = [], [], [], []
    for shape, top, fits in [
        (long, 0.9, True),
        (long, 0.7, False),
        (short, 0.5, True),
        (short, 0.3, False),
    ] * 25:
        for k in range(10):
            raw.append(top - 0.05 * k)
            best.append(top)
            shapes.append(shape)
            grades.append(2 if k == 0 and fits else 0)
    cal = fit_calibration(raw, best, shapes, grades)
    assert cal.raw_weight > 0 and cal.gap_weight > 0 and cal.length_weight < 0
    assert cal(0.5, 0.5, short) > 0.5 > cal(0.7, 0.7, long)  # a short query's fit beats a long one's no-fit
    assert cal(0.9, 0.9, long) > 0.5 > cal(0.3, 0.3, short)
    assert cal(0.85, 0.9, long) < cal(0.85, 0.85, long)  # the same raw score below a better one reads lower
    assert cal(0.4, 0.5, short) < cal(0.5, 0.5, short)


inferred = st.lists(
    st.tuples(st.sampled_from(sorted(TAX.directions)), st.floats(0, 1)), max_size=3, unique_by=lambda x: x[0]
).map(tuple)


@settings(max_examples=500, deadline=None)
@given(need=needs, inferred=inferred, platform=platforms(), relevance=relevances)
def test_raw_score_stays_within_the_pruning_bounds(
    need: NeedFacts, inferred: tuple, platform: PlatformFacts, relevance: Relevance
) -> None:
    """The engine drops candidates that could not reach the top ``limit`` using these bounds; results equal
    ranking everything only if no pair ever scores outside them (inferred directions included)."""
    from dataclasses import replace

    for n in (need, replace(need, directions=(), inferred=inferred)):
        raw = RANKER.raw(n, platform, relevance)
        base = WEIGHTS.relevance * relevance.total
        assert base - RANKER.max_penalty - 1e-9 <= raw <= base + RANKER.max_gain(relevance.total) + 1e-9


@settings(max_examples=300, deadline=None)
@given(
    need=needs,
    inferred=inferred,
    pool=st.lists(st.tuples(platforms(), relevances), min_size=0, max_size=40),
    limit=st.integers(1, 12),
)
def test_top_equals_ranking_every_candidate(need: NeedFacts, inferred: tuple, pool: list, limit: int) -> None:
    """``Ranker.top`` stops scoring early; its result must be exactly the best ``limit`` of all candidates."""
    from dataclasses import replace

    candidates = [(rel, replace(p, id=i), i) for i, (p, rel) in enumerate(pool)]
    for n in (need, replace(need, directions=(), inferred=inferred)):
        every = sorted(
            ((RANKER.raw(n, f, r), f) for r, f, _ in candidates), key=lambda x: RANKER.rank_key(*x)
        )
        top = RANKER.top(n, candidates, limit)
        assert [(raw, f.id) for raw, _, f, _ in top] == [(raw, f.id) for raw, f in every[:limit]]
        assert all(payload == f.id for _, _, f, payload in top)


@settings(max_examples=100, deadline=None)
@given(
    need=needs,
    pool=st.lists(st.tuples(platforms(), relevances), min_size=1, max_size=30),
    rates=st.lists(st.floats(0, 1), min_size=30, max_size=30),
    copies=st.integers(0, 5),
)
def test_responsiveness_breaks_exact_ties_and_nothing_else(
    need: NeedFacts, pool: list, rates: list[float], copies: int
) -> None:
    """A platform that answers readily goes first among equally scored ones (the same profile twice), and is
    never lifted over a better-scored one however readily it answers."""
    from dataclasses import replace

    candidates = [(rel, replace(p, id=i), i) for i, (p, rel) in enumerate(pool)]
    rel, facts, _ = candidates[0]
    candidates += [(rel, replace(facts, id=len(pool) + c), len(pool) + c) for c in range(copies)]
    ranker = Ranker(WEIGHTS, TAX)
    ranker.tie_break = {i: rates[i % len(rates)] for i in range(len(candidates))}
    top = ranker.top(need, candidates, len(candidates))
    raws = [round(raw, TIE_DECIMALS) for raw, *_ in top]
    assert raws == sorted(raws, reverse=True)
    for (a, _, fa, _), (b, _, fb, _) in pairwise(top):
        if round(a, TIE_DECIMALS) == round(b, TIE_DECIMALS):
            assert -ranker.tie_break[fa.id] <= -ranker.tie_break[fb.id]


@settings(max_examples=200, deadline=None)
@given(
    need=needs,
    pool=st.lists(
        st.tuples(platforms(), relevances | st.sampled_from(FEW_RELEVANCES), st.booleans()),
        min_size=1,
        max_size=30,
    ),
    twins=st.lists(st.booleans(), max_size=6),
    rates=st.lists(st.floats(0, 1), min_size=36, max_size=36),
    limit=st.integers(1, 36),
)
def test_a_stale_profile_loses_ties_and_never_relevance(
    need: NeedFacts, pool: list, twins: list[bool], rates: list[float], limit: int
) -> None:
    """Random candidates, some stale, some the same profile twice (exact ties): the scores ranked, in order, are
    those of the same candidates all fresh; among tied scores every fresh profile comes before every stale one;
    and a stale profile is never above a fresh one that scores lower."""
    from dataclasses import replace

    candidates = [(rel, replace(p, id=i, stale=stale), i) for i, (p, rel, stale) in enumerate(pool)]
    rel, facts, _ = candidates[0]
    candidates += [
        (rel, replace(facts, id=len(pool) + c, stale=s), len(pool) + c) for c, s in enumerate(twins)
    ]
    ranker = Ranker(WEIGHTS, TAX)
    ranker.tie_break = {i: rates[i] for i in range(len(candidates))}
    top = ranker.top(need, candidates, limit)
    fresh = ranker.top(need, [(r, replace(f, stale=False), x) for r, f, x in candidates], limit)

    def shown(raw: float) -> float:
        return round(raw, TIE_DECIMALS)

    assert [shown(raw) for raw, *_ in top] == [shown(raw) for raw, *_ in fresh]
    for i, (a, _, fa, _) in enumerate(top):
        for b, _, fb, _ in top[i + 1 :]:
            if fa.stale and not fb.stale:
                assert shown(a) > shown(b)  # a stale profile above a fresh one only when it scores higher
    # At the cut: a fresh candidate tied with a stale one that made the list made it too.
    if len(top) == limit and len(candidates) > limit:
        kept = {f.id for _, _, f, _ in top}
        last = shown(top[-1][0])
        for r, f, _ in candidates:
            if f.id not in kept and not f.stale and shown(ranker.raw(need, f, r)) == last:
                assert all(not g.stale for raw, _, g, _ in top if shown(raw) == last)
