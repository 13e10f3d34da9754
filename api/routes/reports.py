"""Reports for policy staff: network coverage and unmet demand, as JSON or CSV."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.deps import RuntimeDep
from matcher.reports.coverage import coverage_csv, coverage_report
from matcher.reports.schemas import CoverageOut

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get(
    "/coverage",
    response_model=CoverageOut,
    summary="Platforms by tier, technologies submitted and unmet demand per area, direction and province",
    responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with `format=csv`."}},
)
async def coverage(
    rt: RuntimeDep,
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
    report = await run_in_threadpool(coverage_report, rt.db, rt.taxonomy, cut)
    if format == "csv":
        return Response(
            coverage_csv(report, rt.taxonomy),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="pilotmatch-coverage.csv"'},
        )
    return CoverageOut.of(report, rt.taxonomy)
