"""Ad-hoc matching: a technology description in, ranked and explained platforms out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.admission import ApiMatchAdmissionDep
from api.deps import RuntimeDep
from api.problems import problem_responses
from api.schemas import MatchRequest, MatchResponse
from matcher.errors import InvalidInput

router = APIRouter(tags=["matching"])


@router.post(
    "/v1/match",
    response_model=MatchResponse,
    summary="Rank platforms for a technology description (Chinese or English), each with its explanation",
    description="Anonymous callers may make `PILOTMATCH_MATCH_RATE_LIMIT` matches a minute per address, callers "
    "with a key `PILOTMATCH_KEYED_MATCH_RATE_LIMIT` per key (429 beyond). When the service is matching at "
    "capacity and its queue is full it answers 503 at once. Both carry `Retry-After`.",
    responses=problem_responses(401, 422, 429, 503),
)
def match(
    body: MatchRequest,
    rt: RuntimeDep,
    _: ApiMatchAdmissionDep,
    stale: Annotated[
        bool | None, Query(description="The body's `stale` filter, as a query parameter (`?stale=false`).")
    ] = None,
) -> MatchResponse:
    if stale is not None:
        if body.stale is not None and body.stale != stale:
            raise InvalidInput("?stale= and the body's stale disagree: give one of them.", field="stale")
        body = body.model_copy(update={"stale": stale})
    result = rt.engine.match(body.query(rt.taxonomy))
    return MatchResponse.of(result)
