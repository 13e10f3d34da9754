"""Policy staff: where the network has platforms, where demand arrives, and where it is unmet. A signed-in
province administrator sees its province's share (as ``GET /v1/reports/coverage`` answers its key)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import Response

from api.web import forms
from api.web.context import WebContext, WebDep
from matcher import PlatformFilters, coverage_report, list_platforms
from matcher.reports.coverage import UNSPECIFIED, busiest_gaps

router = APIRouter(include_in_schema=False)

#: Heat levels of a cell, by unmet technologies in it.
HEAT_STEPS = (0, 1, 2, 4, 8)


def _threshold(ctx: WebContext) -> tuple[float, str | None]:
    raw = forms.text(ctx.request.query_params, "threshold")
    default = ctx.rt.settings.unmet_demand_score
    if not raw:
        return default, None
    try:
        value = float(raw)
    except ValueError:
        return default, ctx.t("error.threshold")
    return (value, None) if 0.0 <= value <= 1.0 else (default, ctx.t("error.threshold"))


@dataclass(frozen=True, slots=True)
class CoverageCell:
    """The heat-table cell a need counts under when it is unmet: its first direction (chosen, or else the first
    inferred, as the report counts a technology) and its first preferred province, or "unspecified"."""

    direction: str
    province: str

    @classmethod
    def of(cls, directions: Sequence[str], provinces: Sequence[str]) -> CoverageCell | None:
        """None when the need has no direction (nothing was chosen or inferred): it is in no cell."""
        if not directions:
            return None
        return cls(directions[0], provinces[0] if provinces else UNSPECIFIED)

    @property
    def href(self) -> str:
        return "/coverage/cell?" + urlencode({"direction": self.direction, "province": self.province})


def heat_level(unmet: int) -> int:
    return sum(unmet >= step for step in HEAT_STEPS[1:])


def _province(ctx: WebContext) -> str | None:
    """The one province the signed-in key's coverage covers (a province administrator's own), or None."""
    p = ctx.principal
    return p.province if p is not None and p.is_province_admin else None


@router.get("/coverage")
def coverage(ctx: WebDep) -> Response:
    threshold, error = _threshold(ctx)
    report = coverage_report(ctx.rt.db, ctx.rt.taxonomy, threshold, _province(ctx))
    used = {p for _, p in report.cells}
    provinces = [p.code for p in ctx.rt.taxonomy.provinces if p.code in used]
    if UNSPECIFIED in used:
        provinces.append(UNSPECIFIED)
    return ctx.render(
        "coverage/page.html",
        422 if error else 200,
        report=report,
        provinces=provinces,
        gaps=busiest_gaps(report),
        heat_level=heat_level,
        threshold=threshold,
        error=error,
        max_area_platforms=max((c.platforms for c in report.areas.values()), default=0) or 1,
    )


@router.get("/coverage/cell")
def cell(ctx: WebDep) -> Response:
    """One heat-table cell: its unmet technologies and the platforms of that direction in that province."""
    threshold, _ = _threshold(ctx)
    direction = forms.text(ctx.request.query_params, "direction")
    province = forms.text(ctx.request.query_params, "province")
    tax = ctx.rt.taxonomy
    scope = _province(ctx)
    if (
        direction not in tax.directions
        or (province not in tax.province_codes and province != UNSPECIFIED)
        or scope not in (None, province)
    ):
        return ctx.render("error.html", 404, status=404, message=ctx.t("error.cell_unknown"))
    report = coverage_report(ctx.rt.db, tax, threshold, scope)
    platforms = []
    if province != UNSPECIFIED:
        platforms, _ = list_platforms(
            ctx.rt.db,
            ctx.rt.taxonomy,
            PlatformFilters(direction=direction, province=province, active=True),
            limit=200,
        )
    return ctx.render(
        "coverage/cell.html",
        direction=tax.directions[direction],
        province=province,
        unmet=report.unmet_in(direction, province),
        counts=report.cells.get((direction, province)),
        platforms=platforms,
        threshold=threshold,
    )
