"""Policy staff: the loop's funnel (open: counts only) and each platform's activity (administrators only).

Both pages take the API's filters from the query string and show what ``GET /v1/reports/funnel`` and
``GET /v1/reports/platform-activity`` answer, from the same functions. The activity page also serves its JSON and
CSV twins (``?format=json|csv``) to the signed-in administrator, whose browser holds a session, not the key. A
signed-in province administrator's reports are its province's: the province filter is fixed to it.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from api.web import forms
from api.web.context import WebContext, WebDep
from matcher import Forbidden, NotFound, ReportFilters, activity_csv, funnel_report, platform_activity
from matcher.reports.schemas import (
    ACTIVITY_SORTS,
    DEFAULT_ACTIVITY_SORT,
    STAGE_NAMES,
)

router = APIRouter(include_in_schema=False)

FILTERS = ("area", "direction", "province", "tier", "since", "until")
#: The activity table's columns that sort, in the order shown.
SORTABLE = (
    "notified",
    "responded",
    "response_rate",
    "median_response_hours",
    "introduced",
    "completed",
    "succeeded",
    "last_active_at",
)
STAGES = {code: {"name_zh": zh, "name_en": en} for code, (zh, en) in STAGE_NAMES.items()}


def _filters(ctx: WebContext) -> tuple[ReportFilters, dict[str, str], forms.Errors]:
    """The filters as chosen, the values to show again, and a message beside each invalid one (the report is
    then counted without it)."""
    chosen = {name: forms.text(ctx.request.query_params, name) for name in FILTERS}
    principal = ctx.principal
    if principal is not None and principal.is_province_admin:
        chosen["province"] = principal.province or ""
    errors: forms.Errors = {}
    try:
        return ReportFilters.model_validate({k: v for k, v in chosen.items() if v}), chosen, errors
    except ValidationError as exc:
        forms.add_validation_errors(errors, exc, t=ctx.t)
    try:
        kept = ReportFilters.model_validate({k: v for k, v in chosen.items() if v and k not in errors})
    except ValidationError:
        kept = ReportFilters()
    return kept, chosen, errors


@router.get("/reports/funnel")
def funnel(ctx: WebDep) -> Response:
    filters, chosen, errors = _filters(ctx)
    # As the API: counts covering too few platforms are for administrators alone.
    admin = ctx.principal is not None and ctx.principal.is_administrator
    least = 0 if admin else ctx.rt.settings.report_min_platforms
    status = 422 if errors else 200
    try:
        report = funnel_report(ctx.rt.db, ctx.rt.taxonomy, filters, min_platforms=least)
    except Forbidden:
        errors["area"] = ctx.t("funnel.too_narrow", least=least)
        chosen = dict.fromkeys(chosen, "")
        report, status = funnel_report(ctx.rt.db, ctx.rt.taxonomy, ReportFilters(), min_platforms=least), 403
    query = urlencode({k: v for k, v in chosen.items() if v and k not in errors})
    return ctx.render(
        "reports/funnel.html",
        status,
        report=report,
        chosen=chosen,
        errors=errors,
        query=query,
        stages=STAGES,
        top=max(report.count("matched"), 1),
    )


@router.get("/reports/activity")
def activity(ctx: WebDep) -> Response:
    """The signed-in administrator's (a province administrator's: its province's platforms); anyone else signs in
    first, and an operator gets 404 (as for another platform's pages: the page does not exist for them)."""
    principal = ctx.principal
    if principal is None:
        return ctx.redirect("/operator/sign-in?" + urlencode({"next": ctx.request.url.path}))
    if not principal.is_administrator:
        raise NotFound("This page does not exist.")
    params = ctx.request.query_params
    filters, chosen, errors = _filters(ctx)
    sort = forms.text(params, "sort")
    sort = sort if sort in ACTIVITY_SORTS else DEFAULT_ACTIVITY_SORT
    dormant = forms.text(params, "dormant") in ("true", "1", "on")
    report = platform_activity(ctx.rt.db, ctx.rt.taxonomy, filters, dormant=dormant, sort=sort)
    fmt = forms.text(params, "format")
    if fmt == "json":
        return ctx.finish(JSONResponse(report.model_dump(mode="json")))
    if fmt == "csv":
        return ctx.finish(
            Response(
                activity_csv(report),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": 'attachment; filename="pilotmatch-platform-activity.csv"'},
            )
        )
    kept = {k: v for k, v in chosen.items() if v and k not in errors} | (
        {"dormant": "true"} if dormant else {}
    )
    return ctx.render(
        "reports/activity.html",
        422 if errors else 200,
        report=report,
        chosen=chosen,
        errors=errors,
        dormant=dormant,
        sort=sort,
        sortable=SORTABLE,
        query=urlencode(kept | {"sort": sort}),
        sort_url=lambda column: "/reports/activity?" + urlencode(kept | {"sort": _next_sort(sort, column)}),
    )


def _next_sort(current: str, column: str) -> str:
    """A column's header link: descending first (most notified, highest rate), ascending when clicked again."""
    return column if current == f"-{column}" else f"-{column}"
