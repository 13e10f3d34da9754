"""What a match answers: ranked, explained items with their fit label, and the directions it assumed.

Every surface (API, web pages, CLI ``--json``, notifications, reports) shows these same shapes, so none of them
reaches back for settings or the taxonomy to finish a result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from matcher.taxonomy import Taxonomy

Fit = Literal["good", "possible", "weak"]


@dataclass(frozen=True, slots=True)
class FitScale:
    """How a calibrated score reads: "good" from ``good`` up, "possible" from ``possible`` up, else "weak"
    (``PILOTMATCH_GOOD_FIT_SCORE`` / ``PILOTMATCH_POSSIBLE_FIT_SCORE``)."""

    good: float = 0.6
    possible: float = 0.3

    def label(self, score: float) -> Fit:
        if score >= self.good:
            return "good"
        return "possible" if score >= self.possible else "weak"


@dataclass(frozen=True, slots=True)
class Evidence:
    """The profile passage that matched best, in its own words, and the query's terms found in the profile."""

    passage: str
    terms: list[str]


@dataclass(frozen=True, slots=True)
class PlatformMatch:
    platform_id: int
    score: float
    fit: Fit
    #: Each factor's contribution; they sum to ``score``.
    explanation: dict[str, float]
    #: The platform's public profile fields as shown on a result card.
    card: dict
    evidence: Evidence
    #: The platform's profile went unconfirmed past its grace period: shown as such, and ranked after fresh
    #: profiles of the same score.
    stale: bool = False


@dataclass(frozen=True, slots=True)
class TechnologyMatch:
    technology_id: int
    score: float
    fit: Fit
    explanation: dict[str, float]
    card: dict
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class NamedDirection:
    """An industry direction the service assumed for a query, with its names, so a user can check it."""

    code: str
    name_zh: str
    name_en: str
    confidence: float

    @classmethod
    def named(cls, taxonomy: Taxonomy, inferred: tuple[tuple[str, float], ...]) -> list[NamedDirection]:
        return [
            cls(code, taxonomy.directions[code].name_zh, taxonomy.directions[code].name_en, confidence)
            for code, confidence in inferred
            if code in taxonomy.directions
        ]


@dataclass(frozen=True, slots=True)
class MatchResult:
    """Ranked platforms for a need, best first, plus the directions inferred for it (empty when the user chose
    directions), so a user can see and correct what the service assumed, and the service's verdict on the need.

    ``best_score`` is the calibrated score of the need's best platform among all it may be matched with (filters
    such as area or tier do not change it; None: no platform at all), and ``unmet_demand`` says it is below
    ``PILOTMATCH_UNMET_DEMAND_SCORE``: nothing fits this need well. The coverage report counts the same verdict.
    """

    matches: list[PlatformMatch]
    inferred_directions: list[NamedDirection] = field(default_factory=list)
    best_score: float | None = None
    unmet_demand: bool = False
    #: Weak fits were left out after the first few (ask again with ``include_weak`` to see them).
    weak_left_out: bool = False


@dataclass(frozen=True, slots=True)
class TechnologyMatches:
    """The reverse direction: open technologies that fit a platform, best first, scored as the forward match
    scores the same pair."""

    matches: list[TechnologyMatch]
