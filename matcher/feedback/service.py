"""Feedback service: researchers' and operators' verdicts on matches, kept with the pair's score at the time."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, select

from matcher.errors import NotFound
from matcher.feedback.models import MatchFeedback
from matcher.feedback.schemas import FeedbackCreate
from matcher.matching.engine import MatchEngine
from matcher.platforms.models import Platform
from matcher.technologies.models import Technology
from matcher.technologies.service import pair_score


def record_feedback(
    db: Engine, engine: MatchEngine, technology_id: int, platform_id: int, body: FeedbackCreate
) -> MatchFeedback:
    """Store a verdict, with the pair's current score so later analysis can relate verdicts to scores."""
    with Session(db, expire_on_commit=False) as s:
        tech = s.get(Technology, technology_id)
        if tech is None:
            raise NotFound(f"Technology {technology_id} does not exist.")
        if s.get(Platform, platform_id) is None:
            raise NotFound(f"Platform {platform_id} does not exist.")
    row = MatchFeedback(
        technology_id=technology_id,
        platform_id=platform_id,
        verdict=body.verdict,
        reason=body.reason,
        score=pair_score(engine, tech, platform_id),
    )
    with Session(db, expire_on_commit=False) as s:
        s.add(row)
        s.commit()
        s.refresh(row)
    return row


def list_feedback(db: Engine, technology_id: int | None = None) -> list[MatchFeedback]:
    stmt = select(MatchFeedback).order_by(MatchFeedback.id)  # type: ignore[arg-type]
    if technology_id is not None:
        stmt = stmt.where(MatchFeedback.technology_id == technology_id)
    with Session(db) as s:
        return list(s.exec(stmt).all())
