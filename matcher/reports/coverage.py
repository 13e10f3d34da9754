"""Network coverage: where the pilot-test network has platforms, where demand arrives, and where it goes unmet.

MIIT's line is "strengthen a batch, activate a batch, fill the gaps". The gaps are technologies whose best match
scores below a threshold: nobody in the network fits them well. Every figure is read from the database when the
report is asked for (active platforms by their stated directions; technologies by their stated directions, or the
directions inferred when they were matched; best scores as the outbox last recorded them), so the report never
serves a stale cache.

Platforms whose profile is stale (unconfirmed past its grace period, ``matcher.platforms.freshness``) are counted
apart: ``platforms`` and ``platforms_by_tier`` count fresh profiles, ``stale_platforms`` the stale ones, so a
region covered only by profiles nobody has confirmed shows as such. Matching still reads stale profiles, so the
unmet-demand verdict counts what they fit.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, select

from matcher.dbtypes import utcnow
from matcher.platforms.models import Platform
from matcher.taxonomy import Taxonomy
from matcher.technologies.models import Technology

#: The province bucket of platforms without a province and technologies with no preferred province.
UNSPECIFIED = "unspecified"


@dataclass(slots=True)
class Counts:
    """Platforms with a fresh profile by tier, platforms with a stale one, technologies submitted, and those
    among them whose need is unmet."""

    platforms_by_tier: dict[str, int] = field(default_factory=dict)
    technologies: int = 0
    unmet: int = 0
    stale_platforms: int = 0

    def add_platform(self, tier: str, stale: bool) -> None:
        if stale:
            self.stale_platforms += 1
        else:
            self.platforms_by_tier[tier] = self.platforms_by_tier.get(tier, 0) + 1

    @property
    def platforms(self) -> int:
        return sum(self.platforms_by_tier.values())


@dataclass(frozen=True, slots=True)
class UnmetTechnology:
    technology_id: int
    title: str | None
    summary: str
    directions: list[str]
    provinces: list[str]
    best_score: float | None
    best_platform_id: int | None


@dataclass(slots=True)
class CoverageReport:
    threshold: float
    generated_at: datetime
    totals: Counts
    #: Technologies not yet matched (their figures arrive when the worker has matched them).
    awaiting_match: int
    areas: dict[str, Counts]
    directions: dict[str, Counts]
    #: (direction, province) -> counts; only cells with something in them.
    cells: dict[tuple[str, str], Counts]
    unmet: list[UnmetTechnology]
    #: The one province the report covers (None: the whole network).
    province: str | None = None

    def unmet_in(self, direction: str | None = None, province: str | None = None) -> list[UnmetTechnology]:
        return [
            u
            for u in self.unmet
            if (direction is None or direction in u.directions)
            and (province is None or province in (u.provinces or [UNSPECIFIED]))
        ]


def _tech_directions(t: Technology) -> list[str]:
    return list(t.directions or t.matched_directions or [])


def coverage_report(
    db: Engine, taxonomy: Taxonomy, threshold: float, province: str | None = None
) -> CoverageReport:
    """Count platforms and demand per area, direction and (direction, province); list the unmet technologies.
    With ``province`` (a code) only its platforms and the technologies that prefer it count, and only its cells
    are kept: the province's own share of the network, as its administrator sees it."""
    tiers = taxonomy.tier_codes
    areas = {a.code: Counts({t: 0 for t in tiers}) for a in taxonomy.areas}
    directions = {code: Counts({t: 0 for t in tiers}) for code in taxonomy.directions}
    cells: dict[tuple[str, str], Counts] = defaultdict(lambda: Counts({t: 0 for t in tiers}))
    totals = Counts({t: 0 for t in tiers})
    with Session(db) as s:
        stmt = select(
            Platform.tier, Platform.area, Platform.directions, Platform.province, Platform.stale_since
        ).where(Platform.active == True)  # noqa: E712
        if province is not None:
            stmt = stmt.where(Platform.province == province)
        platforms = s.exec(stmt).all()
        technologies = [
            t
            for t in s.exec(select(Technology)).all()
            if province is None or province in (t.preferred_provinces or ())
        ]
    for tier, area, dirs, where, stale_since in platforms:
        stale = stale_since is not None
        totals.add_platform(tier, stale)
        if area in areas:
            areas[area].add_platform(tier, stale)
        for d in set(dirs or ()):
            if d in directions:
                directions[d].add_platform(tier, stale)
                cells[(d, where or UNSPECIFIED)].add_platform(tier, stale)
    unmet: list[UnmetTechnology] = []
    awaiting = 0
    for t in technologies:
        dirs = [d for d in _tech_directions(t) if d in directions]
        provinces = [province] if province is not None else list(t.preferred_provinces or ()) or [UNSPECIFIED]
        is_unmet = False
        if t.status == "open" and t.needs_matching:
            awaiting += 1
        elif t.status == "open" and (t.best_score is None or t.best_score < threshold):
            is_unmet = True
            unmet.append(
                UnmetTechnology(
                    t.id,  # type: ignore[arg-type]
                    t.title,
                    t.summary,
                    dirs,
                    list(t.preferred_provinces or ()),
                    t.best_score,
                    t.best_platform_id,
                )
            )
        totals.technologies += 1
        totals.unmet += is_unmet
        for a in {taxonomy.area_of(d) for d in dirs}:
            areas[a].technologies += 1
            areas[a].unmet += is_unmet
        for d in dirs:
            directions[d].technologies += 1
            directions[d].unmet += is_unmet
            for p in provinces:
                cells[(d, p)].technologies += 1
                cells[(d, p)].unmet += is_unmet
    unmet.sort(key=lambda u: (u.best_score if u.best_score is not None else -1.0, u.technology_id))
    return CoverageReport(
        threshold=threshold,
        province=province,
        generated_at=utcnow(),
        totals=totals,
        awaiting_match=awaiting,
        areas=areas,
        directions=directions,
        cells=dict(cells),
        unmet=unmet,
    )


def coverage_csv(report: CoverageReport, taxonomy: Taxonomy) -> str:
    """One row per (direction, province) with anything in it, plus one per direction with province ``all``;
    platforms with a fresh profile broken down by tier, those with a stale one in the last column. Codes, not names, so a spreadsheet can join it with other data."""
    tiers = taxonomy.tier_codes
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "area",
            "direction",
            "province",
            "platforms",
            *(f"platforms_{t}" for t in tiers),
            "technologies",
            "unmet_demand",
            "stale_platforms",
        ]
    )
    order = {code: i for i, code in enumerate([*taxonomy.province_codes, UNSPECIFIED])}
    by_direction: dict[str, list[tuple[str, Counts]]] = defaultdict(list)
    for (d, p), c in report.cells.items():
        by_direction[d].append((p, c))
    for area in taxonomy.areas:
        for direction in area.directions:
            rows = [("all", report.directions[direction.code])]
            rows += sorted(by_direction.get(direction.code, []), key=lambda pc: order.get(pc[0], len(order)))
            for province, c in rows:
                writer.writerow(
                    [
                        area.code,
                        direction.code,
                        province,
                        c.platforms,
                        *(c.platforms_by_tier.get(t, 0) for t in tiers),
                        c.technologies,
                        c.unmet,
                        c.stale_platforms,
                    ]
                )
    return out.getvalue()


def busiest_gaps(report: CoverageReport, top: int = 10) -> list[tuple[str, str, int]]:
    """The (direction, province) cells with the most unmet demand, most first."""
    counts = Counter({k: c.unmet for k, c in report.cells.items() if c.unmet})
    return [(d, p, n) for (d, p), n in counts.most_common(top)]
