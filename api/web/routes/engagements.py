"""A platform's side of the loop on the web: answer a technology that fits (interested, or declined with a reason),
open an introduction and move it along.

The forms call what the API's routes call (``respond``, ``introduction_view``, ``move_introduction``), and the
operator's pages show the introduction as ``IntroductionView.of`` lets a platform see it: the researcher's
contact only once the introduction is made. Another platform's technology or introduction is 404, as in the API.
A refused answer or move is shown on the page it was sent from (409 or 422), not as an error page.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api.admission import PageMatchAdmissionDep
from api.params import RowId
from api.web import forms
from api.web.context import CheckedForm, WebContext, WebDep
from api.web.routes.directory import platform_page
from api.web.routes.operator import inbox_page, own_platform
from matcher import Conflict, InvalidInput, introduction_view, move_introduction, pair_states, respond
from matcher.engagements.schemas import actor_of
from matcher.platforms.models import Platform

router = APIRouter(include_in_schema=False)


@router.post("/platforms/{platform_id}/technologies/{technology_id}/response")
def answer(
    platform_id: RowId, technology_id: RowId, ctx: WebDep, form: CheckedForm, _: PageMatchAdmissionDep
) -> Response:
    """The one-click answer: ``decision`` interested, or declined with a ``reason``; an optional ``message``."""
    own = own_platform(ctx, platform_id)
    if isinstance(own, Response):
        return own
    back = forms.text(form, "back")  # the page the form is on: inbox, introduction, or the platform's page
    body, error = forms.response_in(form, ctx.t)
    if body is None:
        return _back_page(ctx, own, back, technology_id, 422, error)
    try:
        actor = actor_of(ctx.principal)  # type: ignore[arg-type]  # own_platform checked it
        respond(ctx.rt.db, ctx.rt.engine, ctx.rt.settings, platform_id, technology_id, body, actor=actor)
    except Conflict as exc:
        return _back_page(ctx, own, back, technology_id, 409, ctx.t("error.answer_locked"), exc.detail)
    intro = pair_states(ctx.rt.db, platform_id, [technology_id]).introductions.get(technology_id)
    if back == "introduction" and intro is not None:
        return ctx.redirect(f"/platforms/{platform_id}/introductions/{intro.id}")
    if back == "inbox":
        return ctx.redirect(f"/platforms/{platform_id}/inbox")
    return ctx.redirect(f"/platforms/{platform_id}#tech-{technology_id}")


def _back_page(
    ctx: WebContext,
    own: Platform,
    back: str,
    technology_id: int,
    status: int,
    error: str | None,
    detail: str | None = None,
) -> Response:
    """The page the refused answer came from, with the reason above it."""
    if back == "inbox":
        return inbox_page(ctx, own, status, error, detail)
    intro = pair_states(ctx.rt.db, own.id, [technology_id]).introductions.get(technology_id)  # type: ignore[arg-type]
    if back == "introduction" and intro is not None:
        return _introduction_page(ctx, own, intro.id, status, error, detail)  # type: ignore[arg-type]
    return platform_page(ctx, own.id, status, error, detail)  # type: ignore[arg-type]


@router.get("/platforms/{platform_id}/introductions/{introduction_id}")
def introduction(platform_id: RowId, introduction_id: RowId, ctx: WebDep) -> Response:
    own = own_platform(ctx, platform_id)
    if isinstance(own, Response):
        return own
    return _introduction_page(ctx, own, introduction_id)


def _introduction_page(
    ctx: WebContext,
    own: Platform,
    introduction_id: int,
    status: int = 200,
    action_error: str | None = None,
    action_detail: str | None = None,
) -> Response:
    """One introduction as its platform sees it, with the platform's answer (the way to say yes or no before the
    introduction) and the moves it may make after."""
    view = introduction_view(ctx.rt.db, introduction_id, "platform", platform_id=own.id)
    states = pair_states(ctx.rt.db, own.id, [view.technology_id]).of(view.technology_id)  # type: ignore[arg-type]
    return ctx.render(
        "engagements/introduction.html",
        status,
        p=own,
        intro=view,
        response=states["response"],
        action_error=action_error,
        action_detail=action_detail,
    )


@router.post("/platforms/{platform_id}/introductions/{introduction_id}")
def move(platform_id: RowId, introduction_id: RowId, ctx: WebDep, form: CheckedForm) -> Response:
    """Move the engagement along (agreed, piloting, completed with an outcome, withdrawn)."""
    own = own_platform(ctx, platform_id)
    if isinstance(own, Response):
        return own
    patch, error = forms.introduction_patch(form, ctx.t)
    if patch is None:
        return _introduction_page(ctx, own, introduction_id, 422, error)
    actor = actor_of(ctx.principal)  # type: ignore[arg-type]  # own_platform checked it
    try:
        move_introduction(
            ctx.rt.db, ctx.rt.engine, ctx.rt.settings, introduction_id, patch, actor, platform_id=platform_id
        )
    except (Conflict, InvalidInput) as exc:
        status = 409 if isinstance(exc, Conflict) else 422
        return _introduction_page(ctx, own, introduction_id, status, ctx.t("error.move_refused"), exc.detail)
    return ctx.redirect(f"/platforms/{platform_id}/introductions/{introduction_id}")
