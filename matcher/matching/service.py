"""Ad-hoc matching: validate a match request and run it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from matcher.matching.engine import MatchQuery, PlatformMatch
from matcher.matching.ranking import NeedFacts
from matcher.matching.text import normalize_text
from matcher.runtime import Runtime


@dataclass(frozen=True, slots=True)
class MatchOutcome:
    """Ranked matches plus the directions inferred for the query (empty when the user chose directions), so a
    user can see and correct what the service assumed."""

    matches: list[PlatformMatch]
    inferred_directions: list[tuple[str, float]]


def run_match(rt: Runtime, text: str, query: MatchQuery, vector=None) -> MatchOutcome:  # type: ignore[no-untyped-def]
    """Embed (unless a stored vector is given), infer directions if none were chosen, and rank."""
    text = normalize_text(text)
    vector = rt.engine.embed_query(text) if vector is None else vector
    matches, need = rt.engine.match_with_need(
        vector, text, MatchQuery(text, query.need, query.area, query.tiers, query.limit)
    )
    return MatchOutcome(matches, list(need.inferred) if not need.directions else [])


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
) -> MatchOutcome:
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
    return run_match(rt, text, query)
