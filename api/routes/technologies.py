"""Technologies: submit (returns its best platforms), read, list, patch, delete, re-rank."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.admission import ApiMatchAdmissionDep, MatchSlotDep
from api.deps import AdministratorDep, OptionalPrincipalDep, RuntimeDep, TechnologyAdministratorDep
from api.params import IncludeWeak, RowId
from api.problems import problem_responses
from api.schemas import MatchResponse, TechnologyWithMatches
from matcher import (
    FeedbackCreate,
    FeedbackRead,
    Principal,
    TechnologyCreate,
    TechnologyPage,
    TechnologyRead,
    TechnologyUpdate,
    list_feedback,
    record_feedback,
)
from matcher.technologies import service
from matcher.technologies.models import Technology
from matcher.technologies.schemas import Status

router = APIRouter(prefix="/v1/technologies", tags=["technologies"])


@router.post(
    "",
    status_code=201,
    response_model=TechnologyWithMatches,
    summary="Submit a technology; the response carries its best-matching platforms (an administrator; a "
    "province key for technologies that prefer its province)",
    responses=problem_responses(403, 409, 429, 503),
)
def create_technology(
    body: TechnologyCreate,
    rt: RuntimeDep,
    principal: AdministratorDep,
    _slot: MatchSlotDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    include_weak: IncludeWeak = False,
) -> TechnologyWithMatches:
    row, token = service.submit_technology(rt.db, rt.engine, rt.settings, body, actor=principal)
    outcome = MatchResponse.of(service.matches_for_technology(rt.db, rt.engine, row, limit, include_weak))
    return TechnologyWithMatches(
        **TechnologyRead.model_validate(row).model_dump(),
        token=token,
        unmet_demand=outcome.unmet_demand,
        matches=outcome.matches,
        inferred_directions=outcome.inferred_directions,
    )


@router.get("", response_model=TechnologyPage, summary="List technologies (cursor pagination)")
def list_technologies(
    rt: RuntimeDep,
    principal: OptionalPrincipalDep,
    status: Annotated[Status | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TechnologyPage:
    rows, next_cursor = service.list_technologies(rt.db, status=status, cursor=cursor, limit=limit)
    return TechnologyPage(items=[_shown(r, principal) for r in rows], next_cursor=next_cursor)


@router.get(
    "/{technology_id}",
    response_model=TechnologyRead,
    summary="Get one technology (its contact only for an administrator over it)",
)
def get_technology(technology_id: RowId, rt: RuntimeDep, principal: OptionalPrincipalDep) -> TechnologyRead:
    return _shown(service.get_technology(rt.db, technology_id), principal)


def _shown(row: Technology, principal: Principal | None) -> TechnologyRead:
    """A researcher's contact is theirs: only an administrator over the technology (the full admin, or the
    province key of a province it prefers) sees it here (the researcher sees it on their private link; platforms
    never do, until an introduction both sides agreed to exists)."""
    out = TechnologyRead.model_validate(row)
    if principal is not None and principal.governs_any(row.preferred_provinces or ()):
        return out
    return out.model_copy(update={"contact": None})


@router.patch(
    "/{technology_id}",
    response_model=TechnologyRead,
    summary="Change some fields of a technology (an administrator over it)",
    responses=problem_responses(403, 409, 429, 503),
)
def patch_technology(
    technology_id: RowId,
    body: TechnologyUpdate,
    rt: RuntimeDep,
    principal: TechnologyAdministratorDep,
    _slot: MatchSlotDep,
) -> TechnologyRead:
    return TechnologyRead.model_validate(
        service.update_technology(rt.db, rt.engine, rt.settings, technology_id, body, principal)
    )


@router.delete("/{technology_id}", status_code=204, summary="Delete a technology (an administrator over it)")
def delete_technology(
    technology_id: RowId, rt: RuntimeDep, principal: TechnologyAdministratorDep
) -> Response:
    service.delete_technology(rt.db, rt.engine, technology_id, principal)
    return Response(status_code=204)


@router.get(
    "/{technology_id}/matches",
    response_model=MatchResponse,
    summary="Re-rank platforms for a stored technology",
    responses=problem_responses(401, 429, 503),
)
def technology_matches(
    technology_id: RowId,
    rt: RuntimeDep,
    _: ApiMatchAdmissionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    include_weak: IncludeWeak = False,
) -> MatchResponse:
    row = service.get_technology(rt.db, technology_id)
    return MatchResponse.of(service.matches_for_technology(rt.db, rt.engine, row, limit, include_weak))


@router.post(
    "/{technology_id}/matches/{platform_id}/feedback",
    status_code=201,
    response_model=FeedbackRead,
    summary="Record whether a suggested platform fits (good/bad, with a reason; an administrator over the "
    "technology)",
)
def post_feedback(
    technology_id: RowId,
    platform_id: RowId,
    body: FeedbackCreate,
    rt: RuntimeDep,
    _: TechnologyAdministratorDep,
) -> FeedbackRead:
    return FeedbackRead.model_validate(record_feedback(rt.db, rt.engine, technology_id, platform_id, body))


@router.get(
    "/{technology_id}/feedback",
    response_model=list[FeedbackRead],
    summary="Feedback recorded on this technology",
)
def get_feedback(technology_id: RowId, rt: RuntimeDep) -> list[FeedbackRead]:
    service.get_technology(rt.db, technology_id)
    return [FeedbackRead.model_validate(f) for f in list_feedback(rt.db, technology_id)]
