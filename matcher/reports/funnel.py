"""The loop's funnel: of the (technology, platform) pairs the service matched, how many were notified, answered,
introduced, and became pilot tests that succeeded. Stages and filters are defined in ``matcher.reports.pairs``
and docs/reports.md; every figure is counted from the database when the report is asked for."""

from __future__ import annotations

import csv
import io
from collections import Counter
from itertools import pairwise

from sqlalchemy import Engine, String, literal, union_all
from sqlmodel import Session, select

from matcher.dbtypes import utcnow
from matcher.errors import Forbidden
from matcher.platforms.models import Platform
from matcher.reports.pairs import (
    NOTIFIED_AND_RESPONDED,
    PairQuery,
    median_hours,
    share,
    stage_counts,
)
from matcher.reports.schemas import STAGES, AreaFunnel, FunnelOut, ReportFilters, StageCount
from matcher.taxonomy import Taxonomy


def funnel_report(
    db: Engine, taxonomy: Taxonomy, filters: ReportFilters, *, min_platforms: int = 0
) -> FunnelOut:
    """The funnel of the pairs that pass ``filters``: stage counts, conversions, the median response time, and
    the counts per key area of the platforms. Two queries, whatever the size of the network.

    With ``min_platforms`` (callers without the admin key) a funnel that covers fewer platforms is refused
    (``Forbidden``), and an area's counts that do are withheld."""
    q = PairQuery(taxonomy, filters)
    with Session(db) as s:
        rows = s.execute(q.select(Platform.area, *q.stage_columns()).group_by(Platform.area)).all()
        times = s.execute(q.response_times()).all()
    by_area = {row.area: Counter(stage_counts(row)) for row in rows}
    platforms = {row.area: int(row.platforms) for row in rows}
    covered = sum(platforms.values())  # a platform is in one area
    if 0 < covered < min_platforms:
        raise Forbidden(
            f"These filters leave {covered} platform(s): counts that narrow are single platforms' activity, "
            "which only the admin key reads. Widen the filters."
        )
    withheld = {a for a, n in platforms.items() if 0 < n < min_platforms}
    totals: Counter[str] = sum(by_area.values(), Counter())
    return FunnelOut(
        generated_at=utcnow(),
        filters=filters,
        stages=_stages(totals),
        conversion=conversion(totals),
        median_response_hours=median_hours((t.created_at, t.first_responded_at) for t in times),
        by_area=[
            AreaFunnel(
                area=a.code,
                name_zh=a.name_zh,
                name_en=a.name_en,
                stages=_stages(Counter() if a.code in withheld else by_area.get(a.code, Counter())),
                withheld=a.code in withheld,
            )
            for a in taxonomy.areas
        ],
    )


def _stages(counts: Counter[str]) -> list[StageCount]:
    return [StageCount(stage=stage, count=counts[stage]) for stage in STAGES]


def conversion(counts: Counter[str]) -> dict[str, float | None]:
    """``a_to_b``: the share of the pairs at stage ``a`` that reached ``b``; for each stage from the one before
    it, then from ``matched``. Each stage's pairs are among the previous stage's, but for one: a platform may
    answer a technology it was not notified of (from its list of technologies that fit), so
    ``notified_to_responded`` counts only the notified pairs that were answered: the platforms' response rate."""
    out: dict[str, float | None] = {}
    for before, stage in pairwise(STAGES):
        reached = counts[NOTIFIED_AND_RESPONDED] if stage == "responded" else counts[stage]
        out[f"{before}_to_{stage}"] = share(reached, counts[before])
    for stage in STAGES[2:]:
        out[f"matched_to_{stage}"] = share(counts[stage], counts["matched"])
    return out


def funnel_csv(db: Engine, taxonomy: Taxonomy, filters: ReportFilters, *, min_platforms: int = 0) -> str:
    """One row for all pairs, one per key area (``direction`` = ``all``: the pairs whose platform is in it) and
    one per industry direction (the pairs in it, whatever their platform's area); each row is what the JSON says
    with the request's filters and the row's area or direction added. A pair in several directions counts in
    each, so direction rows need not add up to their area's row. Codes, not names, so a spreadsheet can join it
    with other data. With ``min_platforms`` a row covering fewer platforms has empty counts (withheld)."""
    report = funnel_report(db, taxonomy, filters, min_platforms=min_platforms)
    directions = _direction_counts(db, taxonomy, filters)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["area", "direction", *STAGES])
    writer.writerow(["all", "all", *(s.count for s in report.stages)])
    for area, funnel in zip(taxonomy.areas, report.by_area, strict=True):
        writer.writerow([area.code, "all", *("" if funnel.withheld else s.count for s in funnel.stages)])
        for d in area.directions:
            counts, platforms = directions.get(d.code, (Counter(), 0))
            hidden = 0 < platforms < min_platforms
            writer.writerow([area.code, d.code, *("" if hidden else counts[stage] for stage in STAGES)])
    return out.getvalue()


def _direction_counts(
    db: Engine, taxonomy: Taxonomy, filters: ReportFilters
) -> dict[str, tuple[Counter[str], int]]:
    """Stage counts and platforms per industry direction, in one query: the pairs joined with the taxonomy's
    direction codes (a pair meets each direction it is in)."""
    q = PairQuery(taxonomy, filters)
    codes = union_all(
        *(select(literal(code, String).label("code")) for code in taxonomy.directions)
    ).subquery("codes")
    pattern = literal('%"', String) + codes.c.code + literal('"%', String)
    stmt = (
        q.select(codes.c.code, *q.stage_columns()).join(codes, q.in_direction(pattern)).group_by(codes.c.code)
    )
    with Session(db) as s:
        return {row.code: (Counter(stage_counts(row)), int(row.platforms)) for row in s.execute(stmt).all()}
