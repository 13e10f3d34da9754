"""The platform's side of the loop: answer a technology that fits, read and move its introductions.

A platform's key (or its signed-in operator) acts for that platform, the admin key for any. Another platform's
introduction is 404, as if it did not exist."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import PlatformAccessDep, PrincipalDep, RuntimeDep
from api.params import RowId
from api.problems import problem_responses
from matcher import (
    IntroductionPatch,
    IntroductionView,
    Principal,
    ResponseIn,
    ResponseOut,
    introduction_view,
    move_introduction,
    respond,
)

router = APIRouter(tags=["introductions"])


def _actor(principal: Principal) -> str:
    return "admin" if principal.is_admin else "platform"


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
    answer = respond(rt.db, rt.engine, rt.settings, platform_id, technology_id, body, actor=_actor(principal))
    return ResponseOut.model_validate(answer)


@router.get(
    "/v1/introductions/{introduction_id}",
    response_model=IntroductionView,
    summary="One introduction (its platform's key or the admin); the researcher's contact once it is made",
    responses=problem_responses(401, 404),
)
def get_introduction(introduction_id: RowId, rt: RuntimeDep, principal: PrincipalDep) -> IntroductionView:
    return introduction_view(rt.db, introduction_id, "platform", platform_id=_scope(principal))


@router.patch(
    "/v1/introductions/{introduction_id}",
    response_model=IntroductionView,
    summary="Decline before the introduction, or move the engagement along (agreed, piloting, completed, withdrawn)",
    responses=problem_responses(401, 404, 409, 422),
)
def patch_introduction(
    introduction_id: RowId, body: IntroductionPatch, rt: RuntimeDep, principal: PrincipalDep
) -> IntroductionView:
    return move_introduction(
        rt.db, rt.engine, rt.settings, introduction_id, body, _actor(principal), platform_id=_scope(principal)
    )


def _scope(principal: Principal) -> int | None:
    """The platform a key may see introductions of: its own; None (all) for the admin."""
    return None if principal.is_admin else (principal.platform_id or 0)  # 0: no row has it
