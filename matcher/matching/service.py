"""Ad-hoc matching: a free-text technology description in, ranked and explained platforms out."""

from __future__ import annotations

from collections.abc import Sequence

from matcher.matching.engine import MatchEngine
from matcher.matching.query import MatchQuery
from matcher.matching.results import MatchResult


def match_text(
    engine: MatchEngine,
    text: str,
    *,
    directions: Sequence[str] = (),
    trl: int | None = None,
    province: str | None = None,
    service_types: Sequence[str] = (),
    area: str | None = None,
    tiers: Sequence[str] = (),
    limit: int = 10,
) -> MatchResult:
    """Rank platforms for a free-text technology description.

    ``directions``, ``trl``, ``province`` and ``service_types`` are preferences that feed ranking factors;
    ``area`` and ``tiers`` are filters that narrow the candidates. Unknown codes raise ``InvalidInput``.
    """
    query = MatchQuery.of(
        engine.taxonomy,
        text,
        directions=directions,
        trl=trl,
        province=province,
        service_types=service_types,
        area=area,
        tiers=tiers,
        limit=limit,
    )
    return engine.match(query)
