"""What the solver chooses from: each technology's best platforms as its matches score them, and each platform's
slots in this programme."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from sqlalchemy import Engine
from sqlmodel import Session, select

from matcher.engagements.declines import declined_platforms
from matcher.matching.engine import MatchEngine
from matcher.platforms.models import Platform
from matcher.programmes.solver import Candidate
from matcher.technologies.models import Technology
from matcher.technologies.service import technology_query


def candidate_limit(per_technology: int) -> int:
    """How many of a technology's best platforms are offered to the solver: well beyond k, so a technology whose
    favourites are full still has somewhere to go (the deeper ones score less and are rarely chosen)."""
    return max(10 * per_technology, 30)


def technology_candidates(
    db: Engine,
    engine: MatchEngine,
    technology: Technology,
    per_technology: int,
    allowed: frozenset[int] | None = None,
) -> list[Candidate]:
    """The technology's best platforms with the calibrated scores its matches show, weak fits included (so
    ``min_score`` decides, not the page's cut), leaving out platforms that declined it as not a fit; with
    ``allowed``, only those platforms."""
    if allowed is not None and not allowed:
        return []
    declined = declined_platforms(db, technology.id) if technology.id is not None else frozenset()
    query = technology_query(engine, technology, candidate_limit(per_technology), declined, include_weak=True)
    if allowed is not None:
        query = replace(query, platform_ids=allowed)
    return [
        Candidate(technology.id, m.platform_id, m.score)  # type: ignore[arg-type]
        for m in engine.match(query).matches
    ]


def province_platforms(db: Engine, province: str) -> frozenset[int]:
    """The active platforms of a province."""
    with Session(db) as s:
        rows = s.exec(
            select(Platform.id).where(Platform.province == province, Platform.active == True)  # noqa: E712
        ).all()
    return frozenset(rows)  # type: ignore[arg-type]


def slots(platform: Platform, respect_capacity: bool, max_per_platform: int | None) -> int | None:
    """How many technologies a platform may take in this programme (None: no limit). With ``respect_capacity``:
    its ``capacity`` (none stated: no limit), or 0 while it is paused for want of capacity; ``max_per_platform``
    then caps every platform."""
    cap: int | None = None
    if respect_capacity:
        cap = 0 if platform.capacity_paused_at is not None else platform.capacity
    if max_per_platform is not None:
        cap = max_per_platform if cap is None else min(cap, max_per_platform)
    return None if cap is None else max(cap, 0)


def platform_slots(
    db: Engine, platform_ids: Iterable[int], respect_capacity: bool, max_per_platform: int | None
) -> dict[int, int | None]:
    """Slots of these platforms that are active (an inactive or deleted one is absent: it takes nothing)."""
    ids = sorted(set(platform_ids))
    out: dict[int, int | None] = {}
    with Session(db) as s:
        for start in range(0, len(ids), 500):
            rows = s.exec(
                select(Platform).where(Platform.id.in_(ids[start : start + 500]), Platform.active == True)  # type: ignore[union-attr]  # noqa: E712
            ).all()
            out |= {p.id: slots(p, respect_capacity, max_per_platform) for p in rows}  # type: ignore[misc]
    return out
