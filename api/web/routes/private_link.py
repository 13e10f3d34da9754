"""A researcher's private link ``/t/<token>``: the technology, its matches with each platform's answer, and its
introductions, with the forms to ask for one and to move it along.

The page and its forms call the functions ``/v1/submissions/{token}`` calls (``submission``,
``request_introduction``, ``move_introduction``), so the page and the API always agree. The address is the only
key: an unknown token is 404 on every route here, and ``WebContext.finish`` keeps every answer under ``/t/`` out
of caches and Referer headers. A refused move is shown on the page (409 or 422), not as an error page.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import ValidationError

from api.admission import PageMatchAdmissionDep
from api.params import RowId
from api.schemas import MatchResponse
from api.web import forms
from api.web.context import CheckedForm, WebContext, WebDep
from api.web.routes.coverage import CoverageCell
from matcher import (
    Conflict,
    IntroductionRequest,
    InvalidInput,
    NotFound,
    get_platform,
    move_introduction,
    request_introduction,
    submission,
    technology_by_token,
)

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 10


def _unknown(ctx: WebContext) -> Response:
    return ctx.render("error.html", 404, status=404, message=ctx.t("error.link_unknown"))


def _page(
    ctx: WebContext,
    token: str,
    status: int = 200,
    action_error: str | None = None,
    action_detail: str | None = None,
) -> Response:
    """The private page; with ``action_error`` (and the domain's own words in ``action_detail``) above it when a
    form was refused."""
    include_weak = ctx.request.query_params.get("include_weak") in ("1", "true", "on")
    try:
        found = submission(ctx.rt.db, ctx.rt.engine, token, PAGE_SIZE, include_weak)
    except NotFound:
        return _unknown(ctx)
    results = MatchResponse.of(found.matches)
    tech = found.technology
    # The cell the coverage report counts this technology under (an open one only), as the report reads it.
    counted = results.unmet_demand and tech.status == "open"
    directions = (
        tech.directions or tech.matched_directions or [d.code for d in found.matches.inferred_directions]
    )
    cell = CoverageCell.of(directions, tech.preferred_provinces) if counted else None
    matched = {m.platform_id for m in results.matches}
    introduced = {i.platform_id for i in found.introductions}
    # An answer from a platform no longer among the matches ("wrong sector" takes it out) is still the
    # researcher's news: listed apart, with the platform's name.
    others = []
    for r in found.responses:
        if r.platform_id not in matched and r.platform_id not in introduced:
            try:
                others.append((get_platform(ctx.rt.db, r.platform_id), r))
            except NotFound:
                continue
    # The link to keep: on the configured public address, or where this page was reached when none is set.
    settings = ctx.rt.settings
    base = settings.public_url if "public_url" in settings.model_fields_set else str(ctx.request.base_url)
    return ctx.render(
        "find/technology.html",
        status,
        tech=tech,
        results=results,
        weak_url=f"/t/{token}?include_weak=1" if found.matches.weak_left_out else None,
        cell=cell,
        verdict_note="verdict.counted" if counted else None,
        answers={r.platform_id: r for r in found.responses},
        intros={i.platform_id: i for i in found.introductions},
        introductions=found.introductions,
        others=others,
        new=ctx.request.query_params.get("new") == "1",
        link=f"/t/{token}",
        link_base=base.rstrip("/"),
        action_error=action_error,
        action_detail=action_detail,
    )


@router.get("/t/{token}")
def technology(token: str, ctx: WebDep, _: PageMatchAdmissionDep) -> Response:
    """The private page of a submitted technology."""
    return _page(ctx, token)


@router.post("/t/{token}/introductions")
def introduce(token: str, ctx: WebDep, form: CheckedForm, _: PageMatchAdmissionDep) -> Response:
    """ "Introduce me" on a matched platform: asks for the introduction (asking again is harmless and takes back
    the researcher's own decline), then back to the page at that introduction."""
    try:
        tech = technology_by_token(ctx.rt.db, token)
    except NotFound:
        return _unknown(ctx)
    try:
        body = IntroductionRequest(
            platform_id=forms.text(form, "platform_id"),  # type: ignore[arg-type]
            message=forms.optional(form, "message"),
        )
    except ValidationError:
        return _page(ctx, token, 422, ctx.t("error.not_matched"))
    try:
        view, _ = request_introduction(ctx.rt.db, ctx.rt.engine, ctx.rt.settings, tech, body)
    except NotFound as exc:
        return _page(ctx, token, 404, ctx.t("error.not_matched"), exc.detail)
    return ctx.redirect(f"/t/{token}#intro-{view.id}")


@router.post("/t/{token}/introductions/{introduction_id}")
def move(
    token: str, introduction_id: RowId, ctx: WebDep, form: CheckedForm, _: PageMatchAdmissionDep
) -> Response:
    """Decline before the introduction, or move the engagement along; another technology's introduction is
    404."""
    try:
        tech = technology_by_token(ctx.rt.db, token)
    except NotFound:
        return _unknown(ctx)
    patch, error = forms.introduction_patch(form, ctx.t)
    if patch is None:
        return _page(ctx, token, 422, error)
    try:
        move_introduction(
            ctx.rt.db,
            ctx.rt.engine,
            ctx.rt.settings,
            introduction_id,
            patch,
            "researcher",
            technology_id=tech.id,
        )
    except (Conflict, InvalidInput) as exc:
        status = 409 if isinstance(exc, Conflict) else 422
        return _page(ctx, token, status, ctx.t("error.move_refused"), exc.detail)
    return ctx.redirect(f"/t/{token}#intro-{introduction_id}")
