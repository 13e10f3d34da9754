"""Platform profiles: create (one or bulk), read, list, patch, confirm as still true, delete; and the technologies
that fit one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from api.admission import MatchSlotDep
from api.deps import (
    AdministratorDep,
    OptionalPrincipalDep,
    PlatformAccessDep,
    PlatformAdministratorDep,
    PrincipalDep,
    RuntimeDep,
)
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
from matcher.applications.revisions import HeldEdit, edit_platform
from matcher.applications.schemas import EditHeld
from matcher.audit.schemas import AuditEventOut
from matcher.audit.service import readable_history
from matcher.platforms import service
from matcher.platforms.freshness import confirm_platform
from matcher.platforms.permissions import platform_province

router = APIRouter(prefix="/v1/platforms", tags=["platforms"])


@router.post(
    "",
    status_code=201,
    response_model=PlatformRead,
    summary="Create a platform profile (an administrator; a province key in its own province)",
    responses=problem_responses(403, 409, 429, 503),
)
def create_platform(
    body: PlatformCreate, rt: RuntimeDep, principal: AdministratorDep, _slot: MatchSlotDep
) -> PlatformRead:
    rows = service.create_platforms(rt.db, rt.engine, rt.settings, [body], actor=principal)
    return PlatformRead.model_validate(rows[0])


@router.post(
    "/bulk",
    status_code=201,
    response_model=list[PlatformRead],
    summary="Create up to 1,000 platform profiles in one transaction (all or nothing)",
    responses=problem_responses(403, 409, 429, 503),
)
def create_platforms_bulk(
    body: BulkPlatforms, rt: RuntimeDep, principal: AdministratorDep, _slot: MatchSlotDep
) -> list[PlatformRead]:
    rows = service.create_platforms(
        rt.db, rt.engine, rt.settings, body.items, field_prefix="items", match_now=False, actor=principal
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
    description="An operator's edit that moves the profile into another key area, replaces every service type "
    "or rewrites the capabilities into a different text is held for an administrator's review: 202 with the "
    "held application (follow it at `GET /v1/platform-applications/{token}`), and the published profile stays "
    "as it is until approval. One edit at a time waits (409 for another).",
    responses={
        202: {"model": EditHeld, "description": "Held for review; nothing changed yet."},
        **problem_responses(403, 409, 429, 503),
    },
)
def patch_platform(
    platform_id: RowId,
    body: PlatformUpdate,
    rt: RuntimeDep,
    principal: PlatformAccessDep,
    _slot: MatchSlotDep,
) -> PlatformRead | JSONResponse:
    done = edit_platform(rt.db, rt.engine, rt.settings, platform_id, body, actor=principal)
    if isinstance(done, HeldEdit):
        held = EditHeld(
            id=done.application.id,  # type: ignore[arg-type]
            token=done.token,
            status="pending",
            revision_of=platform_id,
        )
        return JSONResponse(held.model_dump(mode="json"), 202, headers={"Cache-Control": "no-store"})
    return PlatformRead.model_validate(done)


@router.post(
    "/{platform_id}/confirm",
    response_model=PlatformRead,
    summary="Confirm the profile is still true (the platform's key, or an administrator over it)",
    responses=problem_responses(401, 404),
)
def confirm(platform_id: RowId, rt: RuntimeDep, principal: PlatformAccessDep) -> PlatformRead:
    """Sets `confirmed_at`, and clears a pending request to confirm and a stale mark; recorded in the
    platform's history."""
    return PlatformRead.model_validate(confirm_platform(rt.db, rt.engine, platform_id, principal))


@router.delete(
    "/{platform_id}",
    status_code=204,
    summary="Delete a platform (it leaves results at once; its audit trail stays)",
    responses=problem_responses(403, 404),
)
def delete_platform(platform_id: RowId, rt: RuntimeDep, principal: PlatformAdministratorDep) -> Response:
    service.delete_platform(rt.db, rt.engine, platform_id, actor=principal)
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
    """Anyone may list them (no researcher's contact is in them); the platform's own key and administrators over
    it also see the platform's answer and introduction beside each."""
    result = technologies_for_platform(rt.db, rt.engine, platform_id, limit)
    own = principal is not None and principal.acts_for(platform_id, platform_province(rt.db, platform_id)[1])
    return TechnologyMatchResponse.of(
        result, pair_states(rt.db, platform_id, [m.technology_id for m in result.matches]) if own else None
    )


@router.get(
    "/{platform_id}/history",
    response_model=list[AuditEventOut],
    summary="Who changed this platform, its keys and its webhooks, and when (newest first)",
    responses=problem_responses(401, 404),
)
def history(
    platform_id: RowId,
    rt: RuntimeDep,
    principal: PrincipalDep,
    before_id: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="Page back: events older than this id.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[AuditEventOut]:
    """For administrators over the platform and for its own key; a deleted platform's for administrators over
    the province it was in."""
    return readable_history(rt.db, platform_id, principal, limit=limit, before_id=before_id)
