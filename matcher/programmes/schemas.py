"""What an assignment run is asked and what it answers."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from matcher.fields import MAX_ROW_ID, Name, OptionalProvince

#: The most technologies one run assigns (a large fair's programme, and what one request may make the matcher do).
MAX_TECHNOLOGIES = 1000
#: The most platforms one technology may be given.
MAX_PER_TECHNOLOGY = 5

TechnologyId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]


class AssignmentRequest(BaseModel):
    """A programme's technologies and its rules: how many platforms each technology should meet, the lowest
    calibrated score worth a meeting, and the platforms' slots; and a name the platforms it notifies read."""

    model_config = ConfigDict(extra="forbid")

    technology_ids: list[TechnologyId] = Field(
        min_length=1,
        max_length=MAX_TECHNOLOGIES,
        description="The technologies to assign (1 to 1,000, unique).",
    )
    per_technology: int = Field(
        ge=1,
        le=MAX_PER_TECHNOLOGY,
        description="k (required): up to this many distinct platforms per technology (1-5).",
    )
    respect_capacity: bool = Field(
        True,
        description="Give each platform at most its `capacity` (none: no limit; paused for want of capacity: 0).",
    )
    min_score: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description='Only pairs with a calibrated score at least this. Left out: where a "possible" fit starts '
        "(PILOTMATCH_POSSIBLE_FIT_SCORE, 0.5), so weak fits are never assigned unless asked; 0: every fit.",
    )
    province: OptionalProvince = Field(
        None, description="Only platforms of this province (a province key's own, whatever is sent)."
    )
    max_per_platform: int | None = Field(
        None,
        ge=1,
        le=MAX_TECHNOLOGIES,
        description="At most this many technologies per platform, whatever its capacity.",
    )
    label: Name | None = Field(
        None,
        description="The programme's name (e.g. the fair's), carried by the `assignment.made` notifications.",
    )

    @field_validator("technology_ids")
    @classmethod
    def _unique(cls, ids: list[int]) -> list[int]:
        repeated = sorted(i for i, n in Counter(ids).items() if n > 1)
        if repeated:
            raise ValueError(f"each technology once: {', '.join(map(str, repeated[:10]))} repeated")
        return ids


class Assignment(BaseModel):
    """The platforms one technology was given, best first, with each pair's calibrated score, and how many
    platforms it could have been given (so a technology that got fewer than k says why)."""

    technology_id: int
    platform_ids: list[int]
    scores: list[float]
    fitting: int | None = Field(
        None,
        description="Platforms scoring at least min_score with a slot before the run: fewer than k, and this is "
        "all it could get; more than it got, and the others' slots went to pairs scoring more in total.",
    )


class Unassigned(BaseModel):
    """A technology given no platform, and why: ``unknown technology``, ``technology is closed``, ``no platform
    above min_score`` (none fits well enough among the platforms allowed) or ``all fitting platforms are full``
    (their slots are zero or went to pairs that scored more in total)."""

    technology_id: int
    reason: str


class AssignmentOut(BaseModel):
    """One stored run: what was asked, what each technology got, and the total score against greedy's."""

    id: int
    created_at: datetime
    created_by: str = Field(description="`admin`, `admin:<key id>` or `province:<key id>`.")
    province: str | None = Field(
        description="The province of the province key that ran it (null: full admin)."
    )
    request: AssignmentRequest
    assignments: list[Assignment] = Field(
        description="Technologies given at least one platform, in request order."
    )
    unassigned: list[Unassigned]
    objective: float = Field(description="The total calibrated score of the pairs chosen (the optimum).")
    greedy_objective: float = Field(
        description="The same total when pairs are taken best score first (greedy)."
    )
    candidates: int = Field(
        description="Pairs the solver could choose from (fits above min_score with a slot)."
    )
    notified_at: datetime | None = Field(
        description="When its pairs were pushed to the platforms, if they were."
    )


class AssignmentSummary(BaseModel):
    """A run in the list: who ran it, when, its rules and its totals; ``GET /v1/assignments/{id}`` has its pairs."""

    id: int
    created_at: datetime
    created_by: str
    province: str | None
    label: str | None
    technologies: int = Field(description="Technologies requested.")
    per_technology: int
    min_score: float | None
    assigned: int = Field(description="Technologies given at least one platform.")
    pairs: int = Field(description="Pairs assigned.")
    objective: float
    greedy_objective: float
    notified_at: datetime | None


class AssignmentPage(BaseModel):
    items: list[AssignmentSummary]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last.")


class NotifyOut(BaseModel):
    """How many assigned pairs became notifications now (pairs notified before are not notified again)."""

    created: int
    pairs: int = Field(description="Assigned pairs whose platform and technology still exist.")
