"""Platform profiles: create (one or bulk), read, list, patch, delete; and the technologies that fit one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.admission import MatchSlotDep
from api.deps import AdminDep, OptionalPrincipalDep, PlatformAccessDep, RuntimeDep
from api.params import RowId
from api.problems import problem_responses
from api.schemas import BulkPlatforms, TechnologyMatchResponse
from matcher import (
    PlatformCreate,
    PlatformFilters,
    PlatformPage,
    PlatformRead,
    PlatformUpdate,
    pair_states,
    technologies_for_platform,
)
from matcher.platforms import service

router = APIRouter(prefix="/v1/platforms", tags=["platforms"])


@router.post(
    "",
    status_code=201,
    response_model=PlatformRead,
    summary="Create a platform profile",
    responses=problem_responses(409, 429, 503),
)
def create_platform(body: PlatformCreate, rt: RuntimeDep, _: AdminDep, _slot: MatchSlotDep) -> PlatformRead:
    return PlatformRead.model_validate(service.create_platforms(rt.db, rt.engine, rt.settings, [body])[0])


@router.post(
    "/bulk",
    status_code=201,
    response_model=list[PlatformRead],
    summary="Create up to 1,000 platform profiles in one transaction (all or nothing)",
    responses=problem_responses(409, 429, 503),
)
def create_platforms_bulk(
    body: BulkPlatforms, rt: RuntimeDep, _: AdminDep, _slot: MatchSlotDep
) -> list[PlatformRead]:
    rows = service.create_platforms(
        rt.db, rt.engine, rt.settings, body.items, field_prefix="items", match_now=False
    )
    return [PlatformRead.model_validate(r) for r in rows]


@router.get("", response_model=PlatformPage, summary="List platforms with filters and cursor pagination")
def list_platforms(
    rt: RuntimeDep,
    filters: Annotated[PlatformFilters, Query()],
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PlatformPage:
    rows, next_cursor = service.list_platforms(rt.db, rt.taxonomy, filters, cursor=cursor, limit=limit)
    return PlatformPage(items=[PlatformRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{platform_id}", response_model=PlatformRead, summary="Get one platform profile")
def get_platform(platform_id: RowId, rt: RuntimeDep) -> PlatformRead:
    return PlatformRead.model_validate(service.get_platform(rt.db, platform_id))


@router.patch(
    "/{platform_id}",
    response_model=PlatformRead,
    summary="Change some fields of a platform profile (admin, or the platform's own key)",
    responses=problem_responses(403, 409, 429, 503),
)
def patch_platform(
    platform_id: RowId,
    body: PlatformUpdate,
    rt: RuntimeDep,
    principal: PlatformAccessDep,
    _slot: MatchSlotDep,
) -> PlatformRead:
    return PlatformRead.model_validate(
        service.update_platform(rt.db, rt.engine, rt.settings, platform_id, body, by_admin=principal.is_admin)
    )


@router.delete("/{platform_id}", status_code=204, summary="Delete a platform (it leaves results at once)")
def delete_platform(platform_id: RowId, rt: RuntimeDep, _: AdminDep) -> Response:
    service.delete_platform(rt.db, rt.engine, platform_id)
    return Response(status_code=204)


@router.get(
    "/{platform_id}/technologies",
    response_model=TechnologyMatchResponse,
    summary="Technologies that fit this platform, best first (the reverse of /v1/match)",
)
def platform_technologies(
    platform_id: RowId,
    rt: RuntimeDep,
    principal: OptionalPrincipalDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> TechnologyMatchResponse:
    """Anyone may list them (no researcher's contact is in them); the platform's own key and the admin also see
    the platform's answer and introduction beside each."""
    result = technologies_for_platform(rt.db, rt.engine, platform_id, limit)
    own = principal is not None and (principal.is_admin or principal.platform_id == platform_id)
    return TechnologyMatchResponse.of(
        result, pair_states(rt.db, platform_id, [m.technology_id for m in result.matches]) if own else None
    )
