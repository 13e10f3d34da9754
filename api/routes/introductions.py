"""The platform's side of the loop: answer a technology that fits, read and move its introductions.

A platform's key (or its signed-in operator) acts for that platform, the admin key for any, a province key for
those of its province (as ``admin``, on the platform's behalf). Another platform's introduction is 404, as if it
did not exist."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import PlatformAccessDep, PrincipalDep, RuntimeDep
from api.params import RowId
from api.problems import problem_responses
from matcher import (
    IntroductionPatch,
    IntroductionView,
    NotFound,
    Principal,
    ResponseIn,
    ResponseOut,
    Runtime,
    introduction_view,
    move_introduction,
    respond,
)
from matcher.engagements.introductions import introduction_platform
from matcher.engagements.schemas import actor_of

router = APIRouter(tags=["introductions"])


@router.put(
    "/v1/platforms/{platform_id}/technologies/{technology_id}/response",
    response_model=ResponseOut,
    summary="Answer a technology that fits this platform: interested, or declined with a reason",
    description="`reason` is required to decline. The answer may change until an introduction is made. "
    "`no_capacity` zeroes the platform's capacity factor until `capacity` is raised again; `wrong_sector` and "
    "`wrong_process` take the platform out of that technology's matches.",
    responses=problem_responses(401, 404, 409, 422),
)
def put_response(
    platform_id: RowId, technology_id: RowId, body: ResponseIn, rt: RuntimeDep, principal: PlatformAccessDep
) -> ResponseOut:
    answer = respond(
        rt.db, rt.engine, rt.settings, platform_id, technology_id, body, actor=actor_of(principal)
    )
    return ResponseOut.model_validate(answer)


@router.get(
    "/v1/introductions/{introduction_id}",
    response_model=IntroductionView,
    summary="One introduction (its platform's key or an administrator over it); the researcher's contact once it "
    "is made",
    responses=problem_responses(401, 404),
)
def get_introduction(introduction_id: RowId, rt: RuntimeDep, principal: PrincipalDep) -> IntroductionView:
    return introduction_view(
        rt.db, introduction_id, "platform", platform_id=_scope(rt, principal, introduction_id)
    )


@router.patch(
    "/v1/introductions/{introduction_id}",
    response_model=IntroductionView,
    summary="Decline before the introduction, or move the engagement along (agreed, piloting, completed, withdrawn)",
    responses=problem_responses(401, 404, 409, 422),
)
def patch_introduction(
    introduction_id: RowId, body: IntroductionPatch, rt: RuntimeDep, principal: PrincipalDep
) -> IntroductionView:
    scope = _scope(rt, principal, introduction_id)
    return move_introduction(
        rt.db, rt.engine, rt.settings, introduction_id, body, actor_of(principal), platform_id=scope
    )


def _scope(rt: Runtime, principal: Principal, introduction_id: int) -> int:
    """The introduction's platform, when the caller may act for it (its own key, the admin, or the key of its
    province); anyone else learns nothing, not even that it exists."""
    found = introduction_platform(rt.db, introduction_id)
    if found is None or not principal.acts_for(*found):
        raise NotFound(f"Introduction {introduction_id} does not exist.")
    return found[0]
