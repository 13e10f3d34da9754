"""Researchers without an account: a submission and its private link (a token, stored only as a hash)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from matcher.engagements.introductions import introductions_of
from matcher.engagements.models import PlatformResponse
from matcher.engagements.responses import responses_of
from matcher.engagements.schemas import IntroductionView, SubmissionCreate
from matcher.matching.engine import MatchEngine
from matcher.matching.results import MatchResult
from matcher.settings import Settings
from matcher.technologies.models import Technology
from matcher.technologies.schemas import TechnologyCreate
from matcher.technologies.service import matches_for_technology, submit_technology, technology_by_token


@dataclass(frozen=True, slots=True)
class Submission:
    """Everything the private link shows: the technology, its current matches, the answers and introductions."""

    technology: Technology
    matches: MatchResult
    responses: list[PlatformResponse]
    introductions: list[IntroductionView]


def submit(
    db: Engine,
    engine: MatchEngine,
    settings: Settings,
    body: SubmissionCreate,
    limit: int = 10,
    include_weak: bool = False,
) -> tuple[Technology, str, MatchResult]:
    """Store a researcher's technology; returns it, the token of its private link (shown once) and its
    matches."""
    technology, token = submit_technology(db, engine, settings, TechnologyCreate(**body.model_dump()))
    return technology, token, matches_for_technology(db, engine, technology, limit, include_weak)


def submission(
    db: Engine, engine: MatchEngine, token: str, limit: int = 10, include_weak: bool = False
) -> Submission:
    """What a private link opens; an unknown token is ``NotFound``."""
    technology = technology_by_token(db, token)
    return Submission(
        technology=technology,
        matches=matches_for_technology(db, engine, technology, limit, include_weak),
        responses=responses_of(db, technology.id),  # type: ignore[arg-type]
        introductions=introductions_of(db, technology.id),  # type: ignore[arg-type]
    )
