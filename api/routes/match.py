"""Ad-hoc matching: a technology description in, ranked and explained platforms out."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import RuntimeDep
from api.schemas import MatchRequest, MatchResponse
from matcher.matching.service import match_text

router = APIRouter(tags=["matching"])


@router.post(
    "/v1/match",
    response_model=MatchResponse,
    summary="Rank platforms for a technology description (Chinese or English), each with its explanation",
)
def match(body: MatchRequest, rt: RuntimeDep) -> MatchResponse:
    outcome = match_text(
        rt,
        body.text,
        directions=body.directions,
        trl=body.trl,
        province=body.province,
        service_types=body.service_types,
        area=body.area,
        tiers=body.tier,
        limit=body.limit,
    )
    return MatchResponse.of(outcome, rt.taxonomy, rt.settings)
