"""What the report routes answer: the coverage report as JSON (the CSV is ``coverage.coverage_csv``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from matcher.reports.coverage import Counts, CoverageReport
from matcher.taxonomy import Taxonomy


class CountsOut(BaseModel):
    platforms: int = Field(description="Active platforms.")
    platforms_by_tier: dict[str, int]
    technologies: int = Field(description="Technologies submitted (any status).")
    unmet_demand: int = Field(description="Open technologies whose best match scores below `threshold`.")

    @classmethod
    def of(cls, c: Counts) -> dict:
        return {
            "platforms": c.platforms,
            "platforms_by_tier": c.platforms_by_tier,
            "technologies": c.technologies,
            "unmet_demand": c.unmet,
        }


class DirectionOut(CountsOut):
    code: str
    name_zh: str
    name_en: str
    priority: bool = Field(description="A policy priority sector.")


class AreaOut(CountsOut):
    code: str
    name_zh: str
    name_en: str
    directions: list[DirectionOut]


class CellOut(CountsOut):
    direction: str
    province: str = Field(description="A province code, or `unspecified`.")


class UnmetOut(BaseModel):
    technology_id: int
    title: str | None
    directions: list[str]
    provinces: list[str]
    best_score: float | None = Field(
        description="Its best match's score; null when no platform matched at all."
    )
    best_platform_id: int | None


class TotalsOut(CountsOut):
    awaiting_match: int = Field(description="Technologies not matched yet (they count once the worker has).")


class CoverageOut(BaseModel):
    threshold: float
    generated_at: datetime
    totals: TotalsOut
    areas: list[AreaOut]
    cells: list[CellOut] = Field(description="Direction × province cells with any platform or technology.")
    unmet_demand: list[UnmetOut] = Field(description="Lowest best score first.")

    @classmethod
    def of(cls, r: CoverageReport, tax: Taxonomy) -> CoverageOut:
        return cls(
            threshold=r.threshold,
            generated_at=r.generated_at,
            totals=TotalsOut(**CountsOut.of(r.totals), awaiting_match=r.awaiting_match),
            areas=[
                AreaOut(
                    code=a.code,
                    name_zh=a.name_zh,
                    name_en=a.name_en,
                    **CountsOut.of(r.areas[a.code]),
                    directions=[
                        DirectionOut(
                            code=d.code,
                            name_zh=d.name_zh,
                            name_en=d.name_en,
                            priority=d.priority,
                            **CountsOut.of(r.directions[d.code]),
                        )
                        for d in a.directions
                    ],
                )
                for a in tax.areas
            ],
            cells=[
                CellOut(direction=d, province=p, **CountsOut.of(c)) for (d, p), c in sorted(r.cells.items())
            ],
            unmet_demand=[
                UnmetOut(
                    technology_id=u.technology_id,
                    title=u.title,
                    directions=u.directions,
                    provinces=u.provinces,
                    best_score=u.best_score,
                    best_platform_id=u.best_platform_id,
                )
                for u in r.unmet
            ],
        )
