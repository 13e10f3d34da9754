"""Reports for policy staff: network coverage and unmet demand, the loop's funnel, and each platform's activity,
as JSON or CSV. A province key's reports cover its province only (``matcher.reports.scope``)."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.deps import AdministratorDep, OptionalPrincipalDep, RuntimeDep
from api.problems import problem_responses
from matcher import (
    activity_csv,
    coverage_csv,
    coverage_report,
    funnel_csv,
    funnel_report,
    platform_activity,
)
from matcher.fields import OptionalProvince
from matcher.reports.schemas import (
    DEFAULT_ACTIVITY_SORT,
    ActivityOut,
    ActivitySort,
    CoverageOut,
    FunnelOut,
    ReportFilters,
)
from matcher.reports.scope import report_province, scoped_filters

router = APIRouter(prefix="/v1/reports", tags=["reports"])

_JSON_OR_CSV = {200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with `format=csv`."}}
#: A province key that asks for another province (or a funnel narrowed to too few platforms) gets 403.
_SCOPED = {**_JSON_OR_CSV, **problem_responses(403)}


def _csv(body: str, name: str) -> Response:
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="pilotmatch-{name}.csv"'},
    )


@router.get(
    "/coverage",
    response_model=CoverageOut,
    summary="Platforms by tier, technologies submitted and unmet demand per area, direction and province",
    responses=_SCOPED,
)
async def coverage(
    rt: RuntimeDep,
    principal: OptionalPrincipalDep,
    province: Annotated[
        OptionalProvince,
        Query(
            description="Only this province: its platforms and the technologies that prefer it (a province key: "
            "always its own)."
        ),
    ] = None,
    threshold: Annotated[
        float | None,
        Query(
            ge=0.0, le=1.0, description="Unmet below this best score; default PILOTMATCH_UNMET_DEMAND_SCORE."
        ),
    ] = None,
    format: Annotated[
        Literal["json", "csv"], Query(description="`csv`: one row per direction × province.")
    ] = "json",
) -> Response | CoverageOut:
    cut = rt.settings.unmet_demand_score if threshold is None else threshold
    scope = report_province(principal, province)
    report = await run_in_threadpool(coverage_report, rt.db, rt.taxonomy, cut, scope)
    if format == "csv":
        return _csv(coverage_csv(report, rt.taxonomy), "coverage")
    return CoverageOut.of(report, rt.taxonomy)


@router.get(
    "/funnel",
    response_model=FunnelOut,
    summary="How many technology-platform pairs were notified, answered, introduced and piloted (counts only)",
    responses=_SCOPED,
)
async def funnel(
    rt: RuntimeDep,
    principal: OptionalPrincipalDep,
    filters: Annotated[ReportFilters, Query()],
    format: Annotated[
        Literal["json", "csv"],
        Query(description="`csv`: one row for all pairs, one per key area and one per industry direction."),
    ] = "json",
) -> Response | FunnelOut:
    # Counts that cover too few platforms are single platforms' activity: the administrators' alone (a province
    # key's funnel is its own province's, whose platforms it administers).
    least = 0 if principal is not None and principal.is_administrator else rt.settings.report_min_platforms
    filters = scoped_filters(principal, filters)
    if format == "csv":
        body = await run_in_threadpool(partial(funnel_csv, min_platforms=least), rt.db, rt.taxonomy, filters)
        return _csv(body, "funnel")
    return await run_in_threadpool(partial(funnel_report, min_platforms=least), rt.db, rt.taxonomy, filters)


@router.get(
    "/platform-activity",
    response_model=ActivityOut,
    summary="Each platform's notifications, answers, response time and engagements (administrators; a province "
    "key: its province's platforms)",
    responses=_SCOPED,
)
async def activity(
    rt: RuntimeDep,
    principal: AdministratorDep,
    filters: Annotated[ReportFilters, Query()],
    dormant: Annotated[
        bool,
        Query(description="Only platforms notified at least 3 times in the window that answered none."),
    ] = False,
    sort: Annotated[
        ActivitySort,
        Query(description="A column; `-` in front sorts descending. Missing values come last."),
    ] = DEFAULT_ACTIVITY_SORT,
    format: Annotated[Literal["json", "csv"], Query(description="`csv`: one row per platform.")] = "json",
) -> Response | ActivityOut:
    filters = scoped_filters(principal, filters)
    report = await run_in_threadpool(
        lambda: platform_activity(rt.db, rt.taxonomy, filters, dormant=dormant, sort=sort)
    )
    if format == "csv":
        return _csv(activity_csv(report), "platform-activity")
    return report
