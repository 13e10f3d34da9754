"""The ranking layer: one explained score per (technology, platform) pair.

``score = Σ factor contributions``; the explanation is exactly that sum, factor by factor, so a person can see why
a platform ranks where it does. Relevance (semantic + lexical) dominates. Fit factors (sector, TRL, service types,
region, capacity) express what the researcher asked for. Policy factors (tier, sector priority) are scaled by
relevance and bounded by ``RankWeights`` so that they can reorder platforms of similar relevance but never lift
a platform whose relevance is more than ``relevance_margin`` lower above a more relevant one.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from matcher.matching.calibration import QueryShape, ScoreCalibration
from matcher.matching.fusion import Relevance
from matcher.matching.pickling import by_fields
from matcher.settings import RankWeights
from matcher.taxonomy import Taxonomy

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PlatformFacts:
    """What ranking needs to know about a platform (kept in memory beside the indexes)."""

    __reduce__ = by_fields

    id: int
    tier: str
    area: str
    directions: tuple[str, ...] = ()
    service_types: tuple[str, ...] = ()
    province: str | None = None
    trl_min: int | None = None
    trl_max: int | None = None
    capacity: int | None = None
    #: (direction, confidence) inferred from the profile's text; used only when ``directions`` is empty.
    inferred: tuple[tuple[str, float], ...] = ()
    #: The platform declined a technology for want of capacity and its operator has not raised ``capacity``
    #: since: its capacity factor is zero, neither a bonus for slots it says it lacks nor a penalty.
    capacity_paused: bool = False
    #: The profile went unconfirmed past its grace period (``matcher.platforms.freshness``): it ranks after every
    #: fresh profile of the same raw score, and nothing else about its score changes.
    stale: bool = False

    def direction_weights(self) -> dict[str, float]:
        return {d: 1.0 for d in self.directions} if self.directions else dict(self.inferred)


@dataclass(frozen=True, slots=True)
class NeedFacts:
    __reduce__ = by_fields

    """What the technology (or ad-hoc query) asks for; empty means "no preference"."""

    directions: tuple[str, ...] = ()
    trl: int | None = None
    provinces: tuple[str, ...] = ()
    service_types: tuple[str, ...] = ()
    #: (direction, confidence) inferred from the text; used only when ``directions`` is empty.
    inferred: tuple[tuple[str, float], ...] = ()

    def direction_weights(self) -> dict[str, float]:
        return {d: 1.0 for d in self.directions} if self.directions else dict(self.inferred)


@dataclass(frozen=True, slots=True)
class PairContext:
    need: NeedFacts
    platform: PlatformFacts
    relevance: Relevance
    taxonomy: Taxonomy
    #: ``need.direction_weights()`` and ``platform.direction_weights()``, worked out once per pair (two factors
    #: read each, and a match scores a couple of hundred pairs).
    wanted: dict[str, float] = field(default_factory=dict)
    offered: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(
        cls, need: NeedFacts, platform: PlatformFacts, relevance: Relevance, taxonomy: Taxonomy
    ) -> PairContext:
        return cls(
            need, platform, relevance, taxonomy, need.direction_weights(), platform.direction_weights()
        )


class Factor(Protocol):
    """One ranking signal: a name (the explanation key) and a signal, usually in [0, 1] (TRL and capacity may
    be negative), multiplied by its weight."""

    name: str
    #: True when a positive signal is at most the pair's relevance (in [0, 1]): the engine's pruning bound uses
    #: it. A factor without the attribute is assumed to reach its full weight.
    scales_with_relevance: bool

    def signal(self, ctx: PairContext) -> float: ...


class SectorFit:
    """1 when the platform serves one of the technology's directions, 0.4 for the same key area, else 0.

    Directions a user chose count fully; inferred ones count with their confidence, on either side.
    """

    name = "sector_fit"
    scales_with_relevance = False

    def signal(self, ctx: PairContext) -> float:
        wanted = ctx.wanted
        if not wanted:
            return 0.0
        offered = ctx.offered
        direct = max((w * offered[c] for c, w in wanted.items() if c in offered), default=0.0)
        if direct > 0:
            return direct
        same_area = max(
            (w for c, w in wanted.items() if ctx.taxonomy.area_of(c) == ctx.platform.area), default=0.0
        )
        return 0.4 * same_area


class SectorPriority:
    """Policy priority sectors, scaled by relevance: only a platform that already fits gets the lift."""

    name = "sector_priority"
    scales_with_relevance = True

    def signal(self, ctx: PairContext) -> float:
        priority = ctx.taxonomy.priority_directions
        offered = ctx.offered.keys() & priority
        if not offered:
            return 0.0
        wanted = ctx.wanted
        if wanted and not offered & wanted.keys():
            return 0.0
        return _unit(ctx.relevance.total)


class Tier:
    """Network tier (national > key-cultivated > provincial > reserve > unlisted), scaled by relevance."""

    name = "tier"
    scales_with_relevance = True

    def signal(self, ctx: PairContext) -> float:
        tax = ctx.taxonomy
        return tax.tier_rank(ctx.platform.tier) / tax.max_tier_rank * _unit(ctx.relevance.total)


def _as_fit(signal: float, ctx: PairContext) -> float:
    """A preference met counts in proportion to relevance (a platform in the wanted province that does not do
    the work is no better a fit for it); a preference missed counts in full."""
    return signal * _unit(ctx.relevance.total) if signal > 0 else signal


class Region:
    """1 (scaled by relevance) when the platform is in a province the technology prefers."""

    name = "region"
    scales_with_relevance = True

    def signal(self, ctx: PairContext) -> float:
        if not ctx.need.provinces or ctx.platform.province is None:
            return 0.0
        return _as_fit(1.0, ctx) if ctx.platform.province in ctx.need.provinces else 0.0


class TrlFit:
    """+1 (scaled by relevance) inside the platform's TRL range; -1/3 per level outside it (at most -1)."""

    name = "trl_fit"
    scales_with_relevance = True

    def signal(self, ctx: PairContext) -> float:
        trl, p = ctx.need.trl, ctx.platform
        if trl is None or (p.trl_min is None and p.trl_max is None):
            return 0.0
        lo = p.trl_min if p.trl_min is not None else 1
        hi = p.trl_max if p.trl_max is not None else 9
        if lo <= trl <= hi:
            return _as_fit(1.0, ctx)
        distance = lo - trl if trl < lo else trl - hi
        return -min(distance, 3) / 3


class ServiceTypes:
    """Share of the wanted service types the platform offers (scaled by relevance)."""

    name = "service_types"
    scales_with_relevance = True

    def signal(self, ctx: PairContext) -> float:
        wanted = ctx.need.service_types
        if not wanted:
            return 0.0
        return _as_fit(len(set(wanted) & set(ctx.platform.service_types)) / len(set(wanted)), ctx)


class Capacity:
    """Open project slots: up to +1 for 5 or more, -1 for a platform that reports none free, 0 while it has
    declined for want of capacity (until its operator raises ``capacity`` again)."""

    name = "capacity"
    scales_with_relevance = False

    def signal(self, ctx: PairContext) -> float:
        cap = ctx.platform.capacity
        if cap is None or ctx.platform.capacity_paused:
            return 0.0
        return -1.0 if cap <= 0 else min(cap, 5) / 5


def _unit(x: float) -> float:
    return min(1.0, max(0.0, x))


_CAN_SUBTRACT = frozenset({"trl_fit", "capacity"})

#: Raw scores equal to this many decimals are tied. Two copies of one profile score alike only to float noise
#: (each is embedded and searched on its own), and the API shows scores to six decimals.
TIE_DECIMALS = 6
#: How far below the ``limit``-th raw score a candidate may be and still tie with it.
_TIE_MARGIN = 10.0**-TIE_DECIMALS

DEFAULT_FACTORS: tuple[Factor, ...] = (
    SectorFit(),
    SectorPriority(),
    Tier(),
    Region(),
    TrlFit(),
    ServiceTypes(),
    Capacity(),
)


@dataclass(frozen=True, slots=True)
class Scored:
    score: float
    explanation: dict[str, float] = field(default_factory=dict)
    #: The score before calibration; ranking sorts by it (calibration never reorders one query's results).
    raw: float = 0.0


class Ranker:
    """Scores pairs with a fixed set of factors and weights; the explanation sums to the score."""

    def __init__(
        self,
        weights: RankWeights,
        taxonomy: Taxonomy,
        factors: Sequence[Factor] = DEFAULT_FACTORS,
        calibration: ScoreCalibration | None = None,
    ):
        self.weights = weights
        self.taxonomy = taxonomy
        self.factors = tuple(factors)
        #: Platform id -> how readily it answers (0-1; absent: 0.5). Orders platforms whose raw scores are tied
        #: (``TIE_DECIMALS``), and nothing else (``matcher.engagements.responsiveness``).
        self.tie_break: Mapping[int, float] = {}
        self.calibration = calibration or ScoreCalibration()
        #: Most any pair can gain from, or lose to, the non-relevance factors (signals lie in [-1, 1]).
        self.max_bonus = sum(getattr(weights, f.name) for f in self.factors)
        scaled = [f for f in self.factors if getattr(f, "scales_with_relevance", False)]
        self._scaled_bonus = sum(getattr(weights, f.name) for f in scaled)
        self._fixed_bonus = self.max_bonus - self._scaled_bonus
        self.max_penalty = sum(getattr(weights, f.name) for f in self.factors if f.name in _CAN_SUBTRACT)
        #: Factors with a weight, for ``raw`` (a factor weighted 0 adds exactly 0).
        self._weighted = [(f, getattr(weights, f.name)) for f in self.factors if getattr(weights, f.name)]

    def max_gain(self, relevance: float) -> float:
        """The most the factors can add to a pair of this relevance (a bound for pruning candidates)."""
        return self._fixed_bonus + self._scaled_bonus * _unit(relevance)

    def top(
        self, need: NeedFacts, candidates: Iterable[tuple[Relevance, PlatformFacts, T]], limit: int
    ) -> list[tuple[float, Relevance, PlatformFacts, T]]:
        """The ``limit`` best candidates by raw score, best first, each as (raw score, relevance, facts, the
        caller's payload). Tied raw scores (equal to ``TIE_DECIMALS``) are ordered fresh profiles before stale
        ones, then by ``tie_break``, then platform id: staleness and responsiveness break ties and never outrank
        relevance (``rank_key``).

        Exact, and it scores few of them: candidates are visited from the most relevant down, and the visit
        stops at the first whose best possible score (its relevance plus the most the factors can add at that
        relevance, which grows with relevance) is below the ``limit``-th best raw score found so far by more than
        a tie: no later candidate can reach or tie it either.
        """
        if limit <= 0:
            return []
        weight, gain = self.weights.relevance, self.max_gain
        kept: list[float] = []  # a min-heap of the best ``limit`` raw scores so far
        scored: list[tuple[float, Relevance, PlatformFacts, T]] = []
        for relevance, facts, payload in sorted(candidates, key=lambda c: -c[0].total):
            total = relevance.total
            if len(kept) == limit and weight * total + gain(total) < kept[0] - _TIE_MARGIN:
                break
            raw = self.raw(need, facts, relevance)
            scored.append((raw, relevance, facts, payload))
            if len(kept) < limit:
                heapq.heappush(kept, raw)
            elif raw > kept[0]:
                heapq.heapreplace(kept, raw)
        scored.sort(key=lambda x: self.rank_key(x[0], x[2]))
        return scored[:limit]

    def rank_key(self, raw: float, platform: PlatformFacts) -> tuple[float, bool, float, float, int]:
        """Where a platform of raw score ``raw`` goes in a ranking (ascending): the score to ``TIE_DECIMALS``
        first, then a fresh profile before a stale one, a readier responder before a slower one, the exact score,
        and the lower id."""
        tie = -self.tie_break.get(platform.id, 0.5)
        return (-round(raw, TIE_DECIMALS), platform.stale, tie, -raw, platform.id)

    def raw(self, need: NeedFacts, platform: PlatformFacts, relevance: Relevance) -> float:
        """The raw score alone, as ``score`` sums it (before rounding each contribution to 6 decimals for the
        explanation), for sorting many candidates cheaply; the explanation and calibration are then worked out
        only for the ones shown."""
        ctx = PairContext.of(need, platform, relevance, self.taxonomy)
        total = self.weights.relevance * (relevance.semantic + relevance.lexical)
        for factor, weight in self._weighted:
            total += weight * factor.signal(ctx)
        return total

    def calibrated(self, raw: float, best: float | None = None, shape: QueryShape | None = None) -> float:
        """The score a pair of raw score ``raw`` shows (rounded as ``score`` rounds it) when the query's best raw
        score is ``best`` (None: this is the best) and the query is of ``shape``."""
        return round(self.calibration(raw, best, shape), 6)

    def score(
        self,
        need: NeedFacts,
        platform: PlatformFacts,
        relevance: Relevance,
        best: float | None = None,
        shape: QueryShape | None = None,
    ) -> Scored:
        """The explained score; ``best`` is the query's best raw score and ``shape`` its language and length,
        which calibration reads the raw score against (None: this pair is the best known)."""
        w = self.weights
        ctx = PairContext.of(need, platform, relevance, self.taxonomy)
        explanation = {
            "semantic": round(w.relevance * relevance.semantic, 6),
            "lexical": round(w.relevance * relevance.lexical, 6),
        }
        for factor in self.factors:
            explanation[factor.name] = round(getattr(w, factor.name) * factor.signal(ctx), 6)
        raw = sum(explanation.values())
        if self.calibration.fitted:
            # A monotonic map: order is unchanged, and the explanation still adds up to the score.
            explanation["calibration"] = round(self.calibration(raw, best, shape) - raw, 6)
        return Scored(score=round(sum(explanation.values()), 6), explanation=explanation, raw=raw)
