"""Ad-hoc matching: validate a match request and run it."""

from __future__ import annotations

from collections.abc import Sequence

from matcher.matching.engine import MatchQuery, PlatformMatch
from matcher.matching.ranking import NeedFacts
from matcher.runtime import Runtime


def match_text(
    rt: Runtime,
    text: str,
    *,
    directions: Sequence[str] = (),
    trl: int | None = None,
    province: str | None = None,
    service_types: Sequence[str] = (),
    area: str | None = None,
    tiers: Sequence[str] = (),
    limit: int = 10,
) -> list[PlatformMatch]:
    """Rank platforms for a free-text technology description.

    ``directions``, ``trl``, ``province`` and ``service_types`` are preferences that feed ranking factors;
    ``area`` and ``tiers`` are filters that narrow the candidates. Unknown codes raise ``InvalidInput``.
    """
    tax = rt.taxonomy
    need = NeedFacts(
        directions=tuple(tax.check_directions(directions)),
        trl=trl,
        provinces=(tax.normalize_province(province),) if province else (),
        service_types=tuple(tax.check_service_types(service_types)),
    )
    query = MatchQuery(
        text=text,
        need=need,
        area=tax.check_area(area) if area else None,
        tiers=tuple(tax.check_tiers(tiers)),
        limit=limit,
    )
    return rt.engine.match(query)
