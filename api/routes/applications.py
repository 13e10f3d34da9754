"""Applying to join the network without a key, following the application on its token, and the administrators'
review: list, approve (the platform and its key are created), reject with a reason."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from api.admission import ApplicationLimitDep, MatchSlotDep
from api.deps import AdministratorDep, RuntimeDep
from api.params import RowId
from api.problems import problem_responses
from matcher.applications.review import approve_application, reject_application
from matcher.applications.schemas import (
    ApplicationCreated,
    ApplicationOut,
    ApplicationPage,
    ApplicationState,
    ApplicationStatusCode,
    ApproveBody,
    PlatformApplicationCreate,
    RejectBody,
)
from matcher.applications.service import (
    application_state,
    applications_out,
    apply_to_join,
    list_applications,
)

router = APIRouter(prefix="/v1/platform-applications", tags=["applications"])

#: Documented with the characters a token has; any other string is simply not found (404), never a 422.
Token = Annotated[
    str,
    Path(
        description="The application's token, as its answer gave it.",
        json_schema_extra={"pattern": "^[A-Za-z0-9_-]{1,200}$"},
    ),
]
_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@router.post(
    "",
    status_code=201,
    response_model=ApplicationCreated,
    summary="Apply to join the network as a platform (no key); the answer's token follows it (shown once)",
    description="The platform-create fields, flat, plus `applicant_contact`. `tier` defaults to `reserve`; "
    "`key_cultivated` and `national` are awarded, not applied for, and `external_id` is the administrators' "
    "(both 422). Nothing is matched, listed or reported until an administrator approves. Limited to "
    "`PILOTMATCH_APPLICATION_RATE_LIMIT` applications a minute per address.",
    responses=problem_responses(422, 429),
)
def apply(
    body: PlatformApplicationCreate, rt: RuntimeDep, response: Response, _limit: ApplicationLimitDep
) -> ApplicationCreated:
    row, token = apply_to_join(rt.db, rt.taxonomy, body)
    response.headers.update(_NO_STORE)
    return ApplicationCreated(id=row.id, token=token, status="pending")  # type: ignore[arg-type]


@router.get(
    "",
    response_model=ApplicationPage,
    summary="Applications to review, oldest first (administrators; a province key sees its province's)",
    responses=problem_responses(401, 403, 422),
)
def list_all(
    rt: RuntimeDep,
    principal: AdministratorDep,
    status: ApplicationStatusCode | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ApplicationPage:
    items, next_cursor = list_applications(rt.db, principal, status=status, cursor=cursor, limit=limit)
    return ApplicationPage(items=items, next_cursor=next_cursor)


@router.get(
    "/{token}",
    response_model=ApplicationState,
    summary="The application as its applicant sees it; after approval, the platform's key the first time only",
    responses=problem_responses(404),
)
def read(token: Token, rt: RuntimeDep, response: Response) -> ApplicationState:
    response.headers.update(_NO_STORE)
    return application_state(rt.db, token)


@router.post(
    "/{application_id}/approve",
    response_model=ApplicationOut,
    summary="Approve: the platform and its key are created (or an edit under review is applied)",
    description='Optional `{"tier"}` grants another tier than the one applied for. A province key approves '
    "its province's applications only (others 404) and grants `reserve` or `provincial` only (403). An "
    "application is decided once: 409 after that.",
    responses=problem_responses(401, 403, 404, 409, 422, 429, 503),
)
def approve(
    application_id: RowId,
    rt: RuntimeDep,
    principal: AdministratorDep,
    _slot: MatchSlotDep,
    body: ApproveBody | None = None,
) -> ApplicationOut:
    tier = body.tier if body is not None else None
    row = approve_application(rt.db, rt.engine, rt.settings, application_id, principal, tier)
    return applications_out(rt.db, [row])[0]


@router.post(
    "/{application_id}/reject",
    response_model=ApplicationOut,
    summary="Reject with a reason the applicant reads (an edit under review leaves the profile as published)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def reject(
    application_id: RowId, body: RejectBody, rt: RuntimeDep, principal: AdministratorDep
) -> ApplicationOut:
    row = reject_application(rt.db, application_id, principal, body.reason)
    return applications_out(rt.db, [row])[0]
