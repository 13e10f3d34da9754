"""The platform directory: search and filter every platform, open one's profile."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import ValidationError

from api.params import RowId
from api.schemas import TechnologyMatchOut, TechnologyMatchResponse
from api.web import forms
from api.web.context import WebContext, WebDep
from matcher import (
    InvalidInput,
    NotFound,
    PlatformFilters,
    get_platform,
    list_platforms,
    pair_states,
    technologies_for_platform,
)
from matcher.platforms.freshness import freshness_date
from matcher.technologies.service import contacts_of

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 20
FILTERS = ("q", "area", "direction", "tier", "province", "service_type", "stale")


@router.get("/platforms")
def directory(ctx: WebDep) -> Response:
    values = ctx.request.query_params
    chosen = {name: forms.text(values, name) for name in FILTERS}
    principal = ctx.principal
    if principal is not None and principal.is_province_admin:
        # A province administrator reviews its own province: the list is that province's, whatever was asked.
        chosen["province"] = principal.province or ""
    cursor = forms.optional(values, "cursor")
    errors: forms.Errors = {}
    rows, next_cursor = [], None
    try:
        filters = PlatformFilters(**{k: v or None for k, v in chosen.items()}, active=True)
        rows, next_cursor = list_platforms(
            ctx.rt.db, ctx.rt.taxonomy, filters, cursor=cursor, limit=PAGE_SIZE
        )
    except InvalidInput as exc:
        forms.add_domain_error(errors, exc, t=ctx.t)
    except ValidationError as exc:
        forms.add_validation_errors(
            errors, exc, messages={("q", "string_too_long"): ctx.t("error.search_too_long")}, t=ctx.t
        )
    query = {k: v for k, v in chosen.items() if v}
    return ctx.render(
        "directory/list.html",
        422 if errors else 200,
        rows=rows,
        chosen=chosen,
        errors=errors,
        first_page=cursor is not None,
        first_url="/platforms?" + urlencode(query),
        next_url="/platforms?" + urlencode(query | {"cursor": next_cursor}) if next_cursor else None,
    )


@router.get("/platforms/{platform_id}")
def platform(platform_id: RowId, ctx: WebDep) -> Response:
    return platform_page(ctx, platform_id)


def platform_page(
    ctx: WebContext,
    platform_id: int,
    status: int = 200,
    action_error: str | None = None,
    action_detail: str | None = None,
) -> Response:
    """Anyone sees the profile; its operator (or the admin) also sees the technologies that fit it, each with the
    platform's answer and introduction and the one-click answers; ``action_error`` says why one was refused."""
    row = get_platform(ctx.rt.db, platform_id)
    fits: list[TechnologyMatchOut] | None = None
    contacts: dict[int, str | None] = {}
    operates = ctx.can_operate(platform_id)
    if operates:
        try:
            result = technologies_for_platform(ctx.rt.db, ctx.rt.engine, platform_id, 10)
            ids = [m.technology_id for m in result.matches]
            fits = TechnologyMatchResponse.of(result, pair_states(ctx.rt.db, platform_id, ids)).matches
        except NotFound:  # inactive platforms take no part in matching
            fits = []
        # A researcher's contact is theirs: an administrator over the technology sees it, an operator does not
        # (a platform learns it only through an introduction both sides agreed to).
        assert ctx.principal is not None
        contacts = contacts_of(ctx.rt.db, [f.technology_id for f in fits], ctx.principal)
    return ctx.render(
        "directory/platform.html",
        status,
        p=row,
        operates=operates,
        fresh_since=freshness_date(row),
        confirmed=ctx.request.query_params.get("confirmed") == "1",
        fits=fits,
        contacts=contacts,
        action_error=action_error,
        action_detail=action_detail,
    )
