"""What the report routes answer: the coverage report, the loop's funnel and the platforms' activity as JSON (the
CSV files are written from the same results), and the filters the loop's reports share."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from matcher.fields import BLANK_IS_NONE, AreaCode, DirectionCode, OptionalProvince, TierCode, coded
from matcher.reports.coverage import Counts, CoverageReport
from matcher.taxonomy import Taxonomy


class CountsOut(BaseModel):
    platforms: int = Field(description="Active platforms with a fresh profile.")
    platforms_by_tier: dict[str, int]
    stale_platforms: int = Field(
        description="Active platforms whose profile is stale (not in `platforms`): unconfirmed past the grace period."
    )
    technologies: int = Field(description="Technologies submitted (any status).")
    unmet_demand: int = Field(description="Open technologies whose best match scores below `threshold`.")

    @classmethod
    def of(cls, c: Counts) -> dict:
        return {
            "platforms": c.platforms,
            "platforms_by_tier": c.platforms_by_tier,
            "stale_platforms": c.stale_platforms,
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
    province: str | None = Field(
        None,
        description="The one province covered: its platforms and the technologies that prefer it (null: the whole "
        "network).",
    )
    generated_at: datetime
    totals: TotalsOut
    areas: list[AreaOut]
    cells: list[CellOut] = Field(description="Direction × province cells with any platform or technology.")
    unmet_demand: list[UnmetOut] = Field(description="Lowest best score first.")

    @classmethod
    def of(cls, r: CoverageReport, tax: Taxonomy) -> CoverageOut:
        return cls(
            threshold=r.threshold,
            province=r.province,
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


# ---- the loop's funnel and the platforms' activity -------------------------------------------------------------

#: The funnel's stages, in order, with their names. Each counts (technology, platform) pairs; docs/reports.md
#: defines them.
STAGE_NAMES: dict[str, tuple[str, str]] = {
    "matched": ("已匹配", "Matched"),
    "notified": ("已通知平台", "Notified"),
    "responded": ("平台已答复", "Answered"),
    "interested": ("平台有意向", "Interested"),
    "introduced": ("已引荐", "Introduced"),
    "agreed": ("已商定中试", "Agreed"),
    "piloting": ("中试中", "Piloting"),
    "completed": ("已完成", "Completed"),
    "succeeded": ("中试成功", "Succeeded"),
}
STAGES: tuple[str, ...] = tuple(STAGE_NAMES)
Stage = Annotated[Literal[STAGES], coded("Funnel stage (对接漏斗阶段).", STAGE_NAMES)]  # type: ignore[valid-type]

#: What the platform-activity report may be sorted by; ``-`` in front sorts descending. Missing values (no
#: response rate without notifications, no median without answers) always come last.
ACTIVITY_SORT_FIELDS: tuple[str, ...] = (
    "notified",
    "responded",
    "response_rate",
    "median_response_hours",
    "interested",
    "introduced",
    "completed",
    "succeeded",
    "last_active_at",
    "name",
)
ACTIVITY_SORTS: tuple[str, ...] = tuple(s for f in ACTIVITY_SORT_FIELDS for s in (f, f"-{f}"))
ActivitySort = Literal[ACTIVITY_SORTS]  # type: ignore[valid-type]
DEFAULT_ACTIVITY_SORT = "-notified"

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
#: ``since`` and ``until`` as the JSON schema documents them: an ISO 8601 date, or a date-time with an optional
#: zone (pydantic parses them; the pattern tells clients the form, and that no control character is taken).
MOMENT_PATTERN = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$"
Moment = Annotated[
    datetime,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": MOMENT_PATTERN,
            "examples": ["2026-01-01", "2026-01-01T08:00:00+08:00"],
        }
    ),
]


class ReportFilters(BaseModel):
    """Which (technology, platform) pairs a report counts. Every filter is optional; a blank one is no filter.

    ``since`` and ``until`` bound when a pair entered the funnel (its earliest notification, answer or
    introduction request). An ISO date means its start in UTC, except that ``until`` counts the whole day it
    names; a date-time without a zone is UTC. The window is ``since <= entered < until``."""

    area: Annotated[AreaCode | None, BLANK_IS_NONE] = Field(
        None, description="Only pairs whose platform is in this key area."
    )
    direction: Annotated[DirectionCode | None, BLANK_IS_NONE] = Field(
        None,
        description="Only pairs in this industry direction: the technology's (stated, else inferred when it was "
        "matched) or the platform's.",
    )
    province: OptionalProvince = Field(None, description="Only pairs whose platform is in this province.")
    tier: Annotated[TierCode | None, BLANK_IS_NONE] = Field(
        None, description="Only pairs whose platform is of this tier."
    )
    since: Annotated[Moment | None, BLANK_IS_NONE] = Field(
        None, description="Only pairs that entered the funnel at or after this ISO date or date-time."
    )
    until: Annotated[Moment | None, BLANK_IS_NONE] = Field(
        None,
        description="Only pairs that entered the funnel before this ISO date-time, or on or before this ISO "
        "date (the whole day counts).",
    )

    @field_validator("since", "until", mode="before")
    @classmethod
    def _day(cls, value: Any, info: ValidationInfo) -> Any:
        """A plain date is a whole day: ``since`` from its first moment, ``until`` up to the next day's. Only the
        documented forms are taken (a bare number is not read as a Unix time)."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if not re.fullmatch(MOMENT_PATTERN, text):
            raise ValueError("give an ISO 8601 date (2026-01-01) or date-time (2026-01-01T08:00:00+08:00)")
        if _DAY.fullmatch(text):
            try:
                day = date.fromisoformat(text)
                if info.field_name == "until":
                    day += timedelta(days=1)
            except (ValueError, OverflowError):
                raise ValueError("give a real calendar date before 9999-12-31") from None
            return datetime.combine(day, time(), tzinfo=UTC)
        return text

    @field_validator("since", "until")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @model_validator(mode="wrap")
    @classmethod
    def _window(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        """An empty window (``until`` not after ``since``) is an error on ``until``, not a report of zeros."""
        model = handler(data)
        if model.since is not None and model.until is not None and model.until <= model.since:
            error = InitErrorDetails(
                type=PydanticCustomError("empty_window", "until must be later than since"),
                loc=("until",),
                input=model.until.isoformat(),
            )
            raise ValidationError.from_exception_data(cls.__name__, [error])
        return model


class StageCount(BaseModel):
    stage: Stage
    count: int = Field(description="(Technology, platform) pairs that reached this stage.")


class AreaFunnel(BaseModel):
    area: str = Field(description="A key-area code: the pairs whose platform is in it.")
    name_zh: str
    name_en: str
    stages: list[StageCount]
    withheld: bool = Field(
        False,
        description="True when the area's pairs involve fewer than PILOTMATCH_REPORT_MIN_PLATFORMS platforms and "
        "the caller has no admin key: its counts (all 0 here) would be single platforms' activity, which only "
        "the admin reads.",
    )


class FunnelOut(BaseModel):
    """The loop's funnel: how many (technology, platform) pairs reached each stage."""

    generated_at: datetime
    filters: ReportFilters
    stages: list[StageCount] = Field(description="Every stage, in order.")
    conversion: dict[str, float | None] = Field(
        description="`a_to_b`: the share of the pairs at stage a that reached stage b, for each stage and the "
        "one before it and for each stage from `matched`; null when no pair is at stage a."
    )
    median_response_hours: float | None = Field(
        description="Median hours from a pair's notification to the platform's first answer, over the answered "
        "pairs that were notified; null when there is none."
    )
    by_area: list[AreaFunnel] = Field(description="The same counts for each key area of the platforms.")

    def count(self, stage: str) -> int:
        return next(s.count for s in self.stages if s.stage == stage)


class PlatformActivity(BaseModel):
    platform_id: int
    name: str
    tier: str
    province: str | None
    notified: int = Field(description="Technologies it was notified of (`match.created`).")
    responded: int = Field(description="Technologies it answered.")
    response_rate: float | None = Field(
        description="The share of the technologies it was notified of that it answered; null when notified of none."
    )
    median_response_hours: float | None = Field(
        description="Median hours from notification to its first answer; null when it answered none it was notified of."
    )
    interested: int
    introduced: int
    completed: int
    succeeded: int
    last_active_at: datetime | None = Field(
        description="Its latest answer or move on an introduction (by its key, its operator or the admin), at "
        "any time; null when it never acted."
    )


class ActivityOut(BaseModel):
    """Each platform's part in the loop: what it was told of, what it answered, how fast, and what came of it."""

    generated_at: datetime
    filters: ReportFilters
    dormant: bool = Field(
        description="Only platforms notified at least 3 times in the window that answered none."
    )
    sort: str
    platforms: list[PlatformActivity]
