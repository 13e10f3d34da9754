"""Response and request shapes that exist only at the HTTP edge (matching, health)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from matcher.fields import (
    AREA,
    DIRECTION,
    PROVINCE_CODE,
    SERVICE_TYPE,
    TECHNOLOGY_STATUS,
    TIER,
    AreaCode,
    DirectionCode,
    LongText,
    OptionalProvince,
    ServiceTypeCode,
    TierCode,
)
from matcher.matching.engine import PlatformMatch, TechnologyMatch
from matcher.matching.service import MatchOutcome
from matcher.platforms.schemas import PlatformCreate
from matcher.settings import Settings
from matcher.taxonomy import Taxonomy
from matcher.technologies.schemas import TechnologyRead


class MatchRequest(BaseModel):
    """A technology description to match. ``directions``, ``trl``, ``province`` and ``service_types`` are
    preferences that raise or lower scores; ``area`` and ``tier`` are filters. Missing means no preference."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "text": "We developed a PEM electrolyser stack with a new catalyst-coated membrane and need a "
                    "100 kW stack test and durability verification.",
                    "trl": 5,
                    "province": "广东",
                    "service_types": ["performance"],
                    "limit": 5,
                },
                {"text": "高镍三元正极材料烧结工艺放大，需要百吨级中试线验证", "area": "emerging_future"},
            ]
        },
    )

    text: LongText
    directions: list[DirectionCode] = Field(default_factory=list, max_length=37)
    trl: int | None = Field(None, ge=1, le=9)
    province: OptionalProvince = None
    service_types: list[ServiceTypeCode] = Field(default_factory=list, max_length=5)
    area: AreaCode | None = None
    tier: list[TierCode] = Field(default_factory=list, max_length=5)
    limit: int = Field(10, ge=1, le=100)


class EvidenceOut(BaseModel):
    passage: str = Field(description="The profile passage that matched best, in the profile's own words.")
    terms: list[str] = Field(
        description="Query terms found in the profile (as the query wrote them), then the query's terms found there in "
        "translation (as the profile writes them)."
    )


def fit_label(score: float, settings: Settings) -> Literal["good", "possible", "weak"]:
    if score >= settings.good_fit_score:
        return "good"
    return "possible" if score >= settings.possible_fit_score else "weak"


class MatchOut(BaseModel):
    platform_id: int
    name: str
    name_en: str | None = None
    organization: str | None = None
    province: Annotated[str, PROVINCE_CODE] | None = None
    city: str | None = None
    tier: Annotated[str, TIER]
    area: Annotated[str, AREA]
    directions: list[Annotated[str, DIRECTION]]
    service_types: list[Annotated[str, SERVICE_TYPE]]
    score: float = Field(description="Calibrated on the dev set: about the chance that the platform fits.")
    fit: Literal["good", "possible", "weak"] = Field(
        description="`score` read against PILOTMATCH_GOOD_FIT_SCORE / PILOTMATCH_POSSIBLE_FIT_SCORE."
    )
    explanation: dict[str, float] = Field(
        description="Each factor's contribution; the contributions (with `calibration`) sum to `score`.",
        examples=[{"semantic": 0.61, "lexical": 0.07, "sector_fit": 0.0, "tier": 0.02, "trl_fit": 0.03}],
    )
    evidence: EvidenceOut

    @classmethod
    def of(cls, m: PlatformMatch, settings: Settings) -> MatchOut:
        return cls(
            platform_id=m.platform_id,
            score=m.score,
            fit=fit_label(m.score, settings),
            explanation=m.explanation,
            evidence=EvidenceOut(passage=m.evidence.passage, terms=m.evidence.terms),
            **m.card,
        )


class InferredDirectionOut(BaseModel):
    code: Annotated[str, DIRECTION]
    name_zh: str
    name_en: str
    confidence: float = Field(ge=0, le=1)


class MatchResponse(BaseModel):
    matches: list[MatchOut]
    inferred_directions: list[InferredDirectionOut] = Field(
        default_factory=list,
        description="Directions inferred from the text and used for sector fit when none were given; "
        "send `directions` to override them.",
    )

    @classmethod
    def of(cls, outcome: MatchOutcome, taxonomy: Taxonomy, settings: Settings) -> MatchResponse:
        return cls(
            matches=[MatchOut.of(m, settings) for m in outcome.matches],
            inferred_directions=[
                InferredDirectionOut(
                    code=code,
                    name_zh=taxonomy.directions[code].name_zh,
                    name_en=taxonomy.directions[code].name_en,
                    confidence=conf,
                )
                for code, conf in outcome.inferred_directions
            ],
        )


class TechnologyWithMatches(TechnologyRead):
    matches: list[MatchOut]
    inferred_directions: list[InferredDirectionOut] = Field(default_factory=list)


class TechnologyMatchOut(BaseModel):
    technology_id: int
    title: str | None
    summary: str
    status: Annotated[str, TECHNOLOGY_STATUS]
    trl: int | None
    score: float
    explanation: dict[str, float]
    evidence: EvidenceOut

    @classmethod
    def of(cls, m: TechnologyMatch) -> TechnologyMatchOut:
        return cls(
            technology_id=m.technology_id,
            score=m.score,
            explanation=m.explanation,
            evidence=EvidenceOut(passage=m.evidence.passage, terms=m.evidence.terms),
            **m.card,
        )


class TechnologyMatchResponse(BaseModel):
    technologies: list[TechnologyMatchOut]


class BulkPlatforms(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[PlatformCreate] = Field(min_length=1, max_length=1000)


class Health(BaseModel):
    status: str
    model: str
    platforms: int
    technologies: int
