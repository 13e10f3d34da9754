"""Researchers without an account: submit a technology, follow it on its private token, ask for introductions
and move the engagement along. The token is the only key: an unknown or malformed one is 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from api.admission import ApiMatchAdmissionDep, SubmissionLimitDep
from api.deps import RuntimeDep
from api.params import IncludeWeak, RowId
from api.problems import problem_responses
from api.schemas import MatchResponse, SubmissionCreated, SubmissionRead
from matcher import (
    IntroductionPatch,
    IntroductionRequest,
    IntroductionView,
    ResponseOut,
    SubmissionCreate,
    TechnologyRead,
    introduction_view,
    move_introduction,
    request_introduction,
    submission,
    submit,
    technology_by_token,
)

router = APIRouter(prefix="/v1/submissions", tags=["submissions"])

#: Documented with the characters a token has; any other string is simply not found (404), never a 422.
Token = Annotated[
    str,
    Path(
        description="The private link's token, as the submission gave it.",
        json_schema_extra={"pattern": "^[A-Za-z0-9_-]{1,200}$"},
    ),
]
_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@router.post(
    "",
    status_code=201,
    response_model=SubmissionCreated,
    summary="Submit a technology without an account; the answer carries its private token (shown once)",
    description="No key needed; rate-limited like `POST /v1/match`, and to `PILOTMATCH_SUBMISSION_RATE_LIMIT` "
    "submissions a minute per address. `contact` is required: an e-mail address, or "
    "a phone number with a name. Only the researcher (with the token) and, after an introduction both sides "
    "agreed to, that platform see it.",
    responses=problem_responses(429, 503),
)
def create_submission(
    body: SubmissionCreate,
    rt: RuntimeDep,
    response: Response,
    _limit: SubmissionLimitDep,
    _: ApiMatchAdmissionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    include_weak: IncludeWeak = False,
) -> SubmissionCreated:
    technology, token, result = submit(rt.db, rt.engine, rt.settings, body, limit, include_weak)
    response.headers.update(_NO_STORE)
    matches = MatchResponse.of(result)
    return SubmissionCreated(
        token=token,
        technology=TechnologyRead.model_validate(technology),
        unmet_demand=matches.unmet_demand,
        matches=matches.matches,
        inferred_directions=matches.inferred_directions,
    )


@router.get(
    "/{token}",
    response_model=SubmissionRead,
    summary="The submission: the technology, its current matches, the platforms' answers, the introductions",
    responses=problem_responses(404, 429, 503),
)
def read_submission(
    token: Token,
    rt: RuntimeDep,
    response: Response,
    _: ApiMatchAdmissionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    include_weak: IncludeWeak = False,
) -> SubmissionRead:
    found = submission(rt.db, rt.engine, token, limit, include_weak)
    response.headers.update(_NO_STORE)
    matches = MatchResponse.of(found.matches)
    return SubmissionRead(
        technology=TechnologyRead.model_validate(found.technology),
        unmet_demand=matches.unmet_demand,
        matches=matches.matches,
        inferred_directions=matches.inferred_directions,
        responses=[ResponseOut.model_validate(r) for r in found.responses],
        introductions=found.introductions,
    )


@router.post(
    "/{token}/introductions",
    status_code=201,
    response_model=IntroductionView,
    summary="Ask to be introduced to one of the matched platforms (200 if already asked)",
    description="The introduction is made (`introduced`) once the platform has also answered `interested`, in "
    "either order; from then on each side sees the other's contact.",
    responses={
        200: {"model": IntroductionView, "description": "Asked before: the existing introduction."},
        **problem_responses(404, 422, 429, 503),
    },
)
def ask_introduction(
    token: Token, body: IntroductionRequest, rt: RuntimeDep, response: Response, _: ApiMatchAdmissionDep
) -> IntroductionView:
    technology = technology_by_token(rt.db, token)
    view, created = request_introduction(rt.db, rt.engine, rt.settings, technology, body)
    response.status_code = 201 if created else 200
    response.headers.update(_NO_STORE)
    return view


@router.get(
    "/{token}/introductions/{introduction_id}",
    response_model=IntroductionView,
    summary="One introduction, as the researcher sees it",
    responses=problem_responses(404),
)
def read_introduction(
    token: Token, introduction_id: RowId, rt: RuntimeDep, response: Response
) -> IntroductionView:
    technology = technology_by_token(rt.db, token)
    response.headers.update(_NO_STORE)
    return introduction_view(rt.db, introduction_id, "researcher", technology_id=technology.id)


@router.patch(
    "/{token}/introductions/{introduction_id}",
    response_model=IntroductionView,
    summary="Decline before the introduction, or move the engagement along (agreed, piloting, completed, withdrawn)",
    responses=problem_responses(404, 409, 422),
)
def patch_introduction(
    token: Token, introduction_id: RowId, body: IntroductionPatch, rt: RuntimeDep, response: Response
) -> IntroductionView:
    technology = technology_by_token(rt.db, token)
    response.headers.update(_NO_STORE)
    return move_introduction(
        rt.db, rt.engine, rt.settings, introduction_id, body, "researcher", technology_id=technology.id
    )
