"""Response and request shapes that exist only at the HTTP edge (matching, health)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ModelWrapValidatorHandler, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from matcher import (
    IntroductionState,
    IntroductionView,
    MatchQuery,
    MatchResult,
    PairStates,
    PlatformCreate,
    PlatformMatch,
    ResponseOut,
    ResponseState,
    Taxonomy,
    TechnologyMatch,
    TechnologyMatches,
    TechnologyRead,
)
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
    validated_with,
)

Fit = Literal["good", "possible", "weak"]
FIT_DESCRIPTION = "`score` read against PILOTMATCH_GOOD_FIT_SCORE / PILOTMATCH_POSSIBLE_FIT_SCORE."


class MatchRequest(BaseModel):
    """A technology description to match. ``directions``, ``trl``, ``province`` and ``service_types`` are
    preferences that raise or lower scores; ``area``, ``tier`` and ``stale`` are filters. Missing means no
    preference."""

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
    include_weak: bool = Field(
        False,
        description="Also return weak fits after the first `PILOTMATCH_WEAK_RESULTS_SHOWN` (3); they are left "
        "out by default.",
    )
    stale: bool | None = Field(
        None,
        description="`false` leaves out platforms whose profile is stale (unconfirmed for over a year); `true` "
        "keeps only those. Missing: both, a stale profile ranked after fresh ones of the same score.",
    )

    def query(self, taxonomy: Taxonomy) -> MatchQuery:
        """The domain's query for this request (normalised and checked once, in ``MatchQuery.of``)."""
        return MatchQuery.of(
            taxonomy,
            self.text,
            directions=self.directions,
            trl=self.trl,
            province=self.province,
            service_types=self.service_types,
            area=self.area,
            tiers=self.tier,
            limit=self.limit,
            include_weak=self.include_weak,
            stale=self.stale,
        )


class EvidenceOut(BaseModel):
    passage: str = Field(description="The profile passage that matched best, in the profile's own words.")
    terms: list[str] = Field(
        description="Query terms found in the profile (as the query wrote them), then the query's terms found there in "
        "translation (as the profile writes them)."
    )


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
    fit: Fit = Field(description=FIT_DESCRIPTION)
    explanation: dict[str, float] = Field(
        description="Each factor's contribution; the contributions (with `calibration`) sum to `score`.",
        examples=[{"semantic": 0.61, "lexical": 0.07, "sector_fit": 0.0, "tier": 0.02, "trl_fit": 0.03}],
    )
    evidence: EvidenceOut
    stale: bool = Field(
        False,
        description="The platform's profile went unconfirmed past its grace period: it ranks after fresh profiles "
        "of the same score.",
    )

    @classmethod
    def of(cls, m: PlatformMatch) -> MatchOut:
        return cls(
            platform_id=m.platform_id,
            score=m.score,
            stale=m.stale,
            fit=m.fit,
            explanation=m.explanation,
            evidence=EvidenceOut(passage=m.evidence.passage, terms=m.evidence.terms),
            **m.card,
        )


class InferredDirectionOut(BaseModel):
    code: Annotated[str, DIRECTION]
    name_zh: str
    name_en: str
    confidence: float = Field(ge=0, le=1)


UNMET_DEMAND = Field(
    description="The service's verdict: no platform fits this need well (its best platform, whatever the "
    "filters, scores below PILOTMATCH_UNMET_DEMAND_SCORE). The coverage report counts the same verdict as unmet "
    "demand.",
)


class MatchResponse(BaseModel):
    unmet_demand: bool = UNMET_DEMAND
    matches: list[MatchOut]
    inferred_directions: list[InferredDirectionOut] = Field(
        default_factory=list,
        description="Directions inferred from the text and used for sector fit when none were given; "
        "send `directions` to override them.",
    )

    @classmethod
    def of(cls, result: MatchResult) -> MatchResponse:
        return cls(
            unmet_demand=result.unmet_demand,
            matches=[MatchOut.of(m) for m in result.matches],
            inferred_directions=[
                InferredDirectionOut(
                    code=d.code, name_zh=d.name_zh, name_en=d.name_en, confidence=d.confidence
                )
                for d in result.inferred_directions
            ],
        )


class TechnologyWithMatches(TechnologyRead):
    token: str | None = Field(
        None,
        description="The key of the technology's private link (`/t/<token>`, `GET /v1/submissions/<token>`), "
        "shown once: hand it to the researcher.",
    )
    unmet_demand: bool = UNMET_DEMAND
    matches: list[MatchOut]
    inferred_directions: list[InferredDirectionOut] = Field(default_factory=list)


class SubmissionCreated(BaseModel):
    """A researcher's submission: the token of its private link (shown once), the technology and its matches."""

    token: str = Field(description="The key of the private link: shown only now, stored only as a hash.")
    technology: TechnologyRead
    unmet_demand: bool = UNMET_DEMAND
    matches: list[MatchOut]
    inferred_directions: list[InferredDirectionOut] = Field(default_factory=list)


class SubmissionRead(BaseModel):
    """What the researcher's private link shows: their technology (with their contact), its current matches, the
    platforms' answers and the introductions."""

    technology: TechnologyRead
    unmet_demand: bool = UNMET_DEMAND
    matches: list[MatchOut]
    inferred_directions: list[InferredDirectionOut] = Field(default_factory=list)
    responses: list[ResponseOut]
    introductions: list[IntroductionView]


class TechnologyMatchOut(BaseModel):
    technology_id: int
    title: str | None
    summary: str
    status: Annotated[str, TECHNOLOGY_STATUS]
    trl: int | None
    score: float = Field(description="Calibrated as in the forward direction: about the chance of a fit.")
    fit: Fit = Field(description=FIT_DESCRIPTION)
    explanation: dict[str, float]
    evidence: EvidenceOut
    response: ResponseState | None = Field(
        None, description="The platform's answer (shown to the platform's key and the admin only)."
    )
    introduction: IntroductionState | None = Field(
        None,
        description="The introduction with this technology's researcher, if one was asked for (platform's "
        "key and admin only).",
    )

    @classmethod
    def of(cls, m: TechnologyMatch, loop: PairStates | None = None) -> TechnologyMatchOut:
        return cls(
            technology_id=m.technology_id,
            score=m.score,
            fit=m.fit,
            explanation=m.explanation,
            evidence=EvidenceOut(passage=m.evidence.passage, terms=m.evidence.terms),
            **m.card,
            **(loop.of(m.technology_id) if loop is not None else {}),
        )


class TechnologyMatchResponse(BaseModel):
    """Open technologies that fit a platform, best first (ranked results use ``matches`` in both directions)."""

    matches: list[TechnologyMatchOut]

    @classmethod
    def of(cls, result: TechnologyMatches, loop: PairStates | None = None) -> TechnologyMatchResponse:
        return cls(matches=[TechnologyMatchOut.of(m, loop) for m in result.matches])


class BulkPlatforms(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[PlatformCreate] = Field(min_length=1, max_length=1000)

    @model_validator(mode="wrap")
    @classmethod
    def _external_ids_once(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        """An ``external_id`` sent twice is an error on the later item, reported with the items' own errors."""
        errors = []
        items = data.get("items") if isinstance(data, dict) else None
        first: dict[str, int] = {}
        for i, item in enumerate(items if isinstance(items, list) else []):
            ext = item.get("external_id") if isinstance(item, dict) else None
            if not isinstance(ext, str):
                continue
            if ext in first:
                errors.append(
                    InitErrorDetails(
                        type=PydanticCustomError(
                            "duplicate",
                            "external_id {value} appears twice in this request (items {first} and {later})",
                            {"value": repr(ext), "first": first[ext], "later": i},
                        ),
                        loc=("items", i, "external_id"),
                        input=ext,
                    )
                )
            else:
                first[ext] = i
        return validated_with(cls.__name__, data, handler, errors)


class Health(BaseModel):
    status: str
    model: str
    platforms: int
    technologies: int
