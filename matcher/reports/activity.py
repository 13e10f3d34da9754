"""Each platform's part in the loop: the funnel of ``matcher.reports.funnel`` split by platform, with its
response rate, its median response time and when it last acted. ``dormant`` keeps the platforms that were
notified at least ``DORMANT_NOTIFIED`` times in the window and answered none: the batch to activate."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import datetime

from sqlalchemy import Engine, func, union_all
from sqlmodel import Session, select

from matcher.dbtypes import utcnow
from matcher.engagements.models import Introduction, IntroductionEvent, PlatformResponse
from matcher.platforms.models import Platform
from matcher.reports.cells import cell
from matcher.reports.pairs import N, PairQuery, R, median_hours, share, stage_counts
from matcher.reports.schemas import (
    ACTIVITY_SORTS,
    DEFAULT_ACTIVITY_SORT,
    ActivityOut,
    PlatformActivity,
    ReportFilters,
)
from matcher.taxonomy import Taxonomy

#: A platform notified this many times in the window that answered none is dormant.
DORMANT_NOTIFIED = 3
#: Who acts for a platform on an introduction: its key or operator, or the administrator on its behalf.
PLATFORM_ACTORS = ("platform", "admin")


def platform_activity(
    db: Engine,
    taxonomy: Taxonomy,
    filters: ReportFilters,
    *,
    dormant: bool = False,
    sort: str = DEFAULT_ACTIVITY_SORT,
) -> ActivityOut:
    """One row per platform with a pair that passes ``filters`` (its counts are over those pairs, so they add
    up to the funnel's), sorted by ``sort`` (see ``ACTIVITY_SORTS``). Three queries, whatever the size of the
    network."""
    if sort not in ACTIVITY_SORTS:
        raise ValueError(f"Unknown sort {sort!r}")
    q = PairQuery(taxonomy, filters)
    keys = (Platform.id, Platform.name, Platform.tier, Platform.province)
    stmt = q.select(*keys, *q.stage_columns()).group_by(*keys)
    if dormant:
        stmt = stmt.having(func.count(N.id) >= DORMANT_NOTIFIED, func.count(R.id) == 0)
    with Session(db) as s:
        rows = s.execute(stmt).all()
        times: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
        for t in s.execute(q.response_times(Platform.id)).all():
            times[t.id].append((t.created_at, t.first_responded_at))
        last = last_active(s, [row.id for row in rows])
    platforms = []
    for row in rows:
        counts = stage_counts(row)
        platforms.append(
            PlatformActivity(
                platform_id=row.id,
                name=row.name,
                tier=row.tier,
                province=row.province,
                notified=counts["notified"],
                responded=counts["responded"],
                response_rate=share(counts["notified_and_responded"], counts["notified"]),
                median_response_hours=median_hours(times.get(row.id, ())),
                interested=counts["interested"],
                introduced=counts["introduced"],
                completed=counts["completed"],
                succeeded=counts["succeeded"],
                last_active_at=last.get(row.id),
            )
        )
    return ActivityOut(
        generated_at=utcnow(),
        filters=filters,
        dormant=dormant,
        sort=sort,
        platforms=sorted_activity(platforms, sort),
    )


def last_active(s: Session, platform_ids: list[int]) -> dict[int, datetime]:
    """Each platform's latest answer or move on one of its introductions by itself or the admin, at any time."""
    if not platform_ids:
        return {}
    acts = union_all(
        select(
            PlatformResponse.platform_id.label("platform_id"),  # type: ignore[attr-defined]
            PlatformResponse.responded_at.label("at"),  # type: ignore[attr-defined]
        ),
        select(Introduction.platform_id, IntroductionEvent.created_at)
        .join(IntroductionEvent, IntroductionEvent.introduction_id == Introduction.id)  # type: ignore[arg-type]
        .where(IntroductionEvent.actor.in_(PLATFORM_ACTORS)),  # type: ignore[attr-defined]
    ).subquery("acts")
    stmt = (
        select(acts.c.platform_id, func.max(acts.c.at).label("at"))
        .where(acts.c.platform_id.in_(platform_ids))
        .group_by(acts.c.platform_id)
    )
    return {row.platform_id: row.at for row in s.execute(stmt).all()}


def sorted_activity(rows: list[PlatformActivity], sort: str) -> list[PlatformActivity]:
    """By ``sort`` (``-`` first: descending), ties by platform id; rows without the value last either way."""
    field = sort.removeprefix("-")
    present = sorted((r for r in rows if getattr(r, field) is not None), key=lambda r: r.platform_id)
    present.sort(key=lambda r: getattr(r, field), reverse=sort.startswith("-"))
    missing = sorted((r for r in rows if getattr(r, field) is None), key=lambda r: r.platform_id)
    return present + missing


def activity_csv(report: ActivityOut) -> str:
    """One row per platform, in the report's order, with the JSON's fields as columns."""
    fields = list(PlatformActivity.model_fields)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(fields)
    for row in report.platforms:
        values = row.model_dump(mode="json")
        writer.writerow(["" if values[f] is None else cell(values[f]) for f in fields])
    return out.getvalue()
