"""The loop's (technology, platform) pairs, as the funnel and the activity report count them.

A pair is in the funnel once the service put it in front of someone: the platform was notified of the technology
(``match.created``), the platform answered it, or the researcher asked to meet the platform. It entered the
funnel at the earliest of those moments. Each stage it reached is read from what is stored: the notification,
the platform's answer, and the introduction with its events, so a stage skipped on the way (``introduced`` then
``completed``) counts as reached, and a withdrawn engagement keeps the stages it had reached.

Everything is counted by the database in aggregate queries, one row per group (no query per pair or per
platform), with SQL that SQLite and PostgreSQL both run: JSON lists of codes are matched as text (``"code"``),
as ``matcher.platforms.service.list_platforms`` does, and times are subtracted in Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from statistics import median
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Subquery,
    and_,
    case,
    cast,
    distinct,
    func,
    literal,
    or_,
    union_all,
)
from sqlalchemy.orm import aliased
from sqlmodel import select

from matcher.engagements.models import Introduction, IntroductionEvent, PlatformResponse
from matcher.notifications.models import Notification
from matcher.notifications.outbox import MATCH_CREATED
from matcher.platforms.models import Platform
from matcher.reports.schemas import STAGES, ReportFilters
from matcher.taxonomy import Taxonomy
from matcher.technologies.models import Technology

#: How far an introduction got, as a rank: reaching a stage reaches every one before it.
_RANK = {"introduced": 1, "agreed": 2, "piloting": 3, "completed": 4}
#: The extra count behind ``notified_to_responded``: notified pairs that were answered.
NOTIFIED_AND_RESPONDED = "notified_and_responded"

# The pair's own rows, joined once each: a pair has at most one of each (unique per technology and platform).
N = aliased(Notification, name="n")
R = aliased(PlatformResponse, name="r")
I = aliased(Introduction, name="i")  # noqa: E741


def _rank(status: Any) -> Any:
    return case(_RANK, value=status, else_=0)


def _reached() -> Subquery:
    """Per introduction, the furthest stage it reached: the best of its events' ``to_status``, its current status,
    and ``introduced`` when it has ``introduced_at`` (rows written without events count too)."""
    ranks = union_all(
        select(
            IntroductionEvent.introduction_id.label("introduction_id"),  # type: ignore[attr-defined]
            _rank(IntroductionEvent.to_status).label("rank"),
        ),
        select(Introduction.id, _rank(Introduction.status)),
        select(Introduction.id, literal(1)).where(Introduction.introduced_at.is_not(None)),  # type: ignore[union-attr]
    ).subquery("ranks")
    return (
        select(ranks.c.introduction_id, func.max(ranks.c.rank).label("rank"))
        .group_by(ranks.c.introduction_id)
        .subquery("reached")
    )


def _entries() -> Subquery:
    """Every pair in the funnel, once, with when it entered it."""
    moments = union_all(
        select(
            Notification.technology_id.label("technology_id"),  # type: ignore[union-attr]
            Notification.platform_id.label("platform_id"),  # type: ignore[attr-defined]
            Notification.created_at.label("at"),  # type: ignore[attr-defined]
        ).where(Notification.type == MATCH_CREATED, Notification.technology_id.is_not(None)),  # type: ignore[union-attr]
        select(
            PlatformResponse.technology_id, PlatformResponse.platform_id, PlatformResponse.first_responded_at
        ),
        select(Introduction.technology_id, Introduction.platform_id, Introduction.created_at),
    ).subquery("moments")
    return (
        select(moments.c.technology_id, moments.c.platform_id, func.min(moments.c.at).label("entered_at"))
        .group_by(moments.c.technology_id, moments.c.platform_id)
        .subquery("pairs")
    )


def _listed(codes_json: Any, pattern: Any) -> ColumnElement[bool]:
    """A JSON list of codes (stored as text on SQLite, json on PostgreSQL) holds the code of ``pattern``."""
    return cast(codes_json, String).like(pattern)


class PairQuery:
    """The pairs that pass ``filters``, with one column per stage to aggregate over any grouping."""

    def __init__(self, taxonomy: Taxonomy, filters: ReportFilters) -> None:
        self.taxonomy = taxonomy
        self.filters = filters
        self.pairs = _entries()
        self.reached = _reached()

    def in_direction(self, pattern: Any) -> ColumnElement[bool]:
        """The technology's directions (stated, else those it was matched under) or the platform's hold it."""
        stated = cast(Technology.directions, String)
        technology = case((stated.like('%"%'), stated), else_=cast(Technology.matched_directions, String))
        return or_(technology.like(pattern), _listed(Platform.directions, pattern))

    def select(self, *columns: Any) -> Select:
        """``columns`` over the filtered pairs, each pair one row joined with its platform, technology,
        notification, answer and introduction."""
        p = self.pairs.c
        stmt = (
            select(*columns)
            .select_from(self.pairs)
            .join(Platform, Platform.id == p.platform_id)  # type: ignore[arg-type]
            .join(Technology, Technology.id == p.technology_id)  # type: ignore[arg-type]
            .outerjoin(
                N,
                and_(
                    N.technology_id == p.technology_id,
                    N.platform_id == p.platform_id,
                    N.type == MATCH_CREATED,
                ),
            )
            .outerjoin(R, and_(R.technology_id == p.technology_id, R.platform_id == p.platform_id))
            .outerjoin(I, and_(I.technology_id == p.technology_id, I.platform_id == p.platform_id))
            .outerjoin(self.reached, self.reached.c.introduction_id == I.id)
        )
        return stmt.where(*self._conditions())

    def _conditions(self) -> list[ColumnElement[bool]]:
        f, tax = self.filters, self.taxonomy
        out: list[ColumnElement[bool]] = []
        if f.area:
            out.append(Platform.area == tax.check_area(f.area))  # type: ignore[arg-type]
        if f.tier:
            out.append(Platform.tier == tax.check_tier(f.tier))  # type: ignore[arg-type]
        if f.province:
            out.append(Platform.province == tax.normalize_province(f.province))  # type: ignore[arg-type]
        if f.direction:
            code = tax.check_directions([f.direction], "direction")[0]
            out.append(self.in_direction(f'%"{code}"%'))
        if f.since:
            out.append(self.pairs.c.entered_at >= f.since)
        if f.until:
            out.append(self.pairs.c.entered_at < f.until)
        return out

    def stage_columns(self) -> list[Any]:
        """One count per stage (labelled with its name), and ``notified_and_responded``."""
        rank = self.reached.c.rank

        def count_if(condition: ColumnElement[bool]) -> Any:
            return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

        return [
            func.count(distinct(Platform.id)).label("platforms"),
            func.count().label("matched"),
            func.count(N.id).label("notified"),
            func.count(R.id).label("responded"),
            count_if(R.decision == "interested").label("interested"),
            *(count_if(rank >= n).label(stage) for stage, n in _RANK.items()),
            count_if(and_(rank >= _RANK["completed"], I.outcome == "succeeded")).label("succeeded"),
            count_if(and_(N.id.is_not(None), R.id.is_not(None))).label(NOTIFIED_AND_RESPONDED),
        ]

    def response_times(self, *keys: Any) -> Select:
        """``keys``, then the notification's and the first answer's times, for the answered, notified pairs."""
        return self.select(*keys, N.created_at, R.first_responded_at).where(
            N.id.is_not(None),
            R.id.is_not(None),
        )


def stage_counts(row: Any) -> dict[str, int]:
    """A row of ``stage_columns`` as ``{stage: count}`` (with ``notified_and_responded``)."""
    return {name: int(getattr(row, name) or 0) for name in (*STAGES, NOTIFIED_AND_RESPONDED)}


def hours_between(notified: datetime, answered: datetime) -> float:
    """Hours from the notification to the first answer. An answer given before the notification (from the
    platform's list of technologies that fit) counts as immediate."""
    return max(0.0, (answered - notified).total_seconds() / 3600)


def median_hours(times: Iterable[tuple[datetime, datetime]]) -> float | None:
    hours = [hours_between(n, a) for n, a in times]
    return round(median(hours), 2) if hours else None


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
