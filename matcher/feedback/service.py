"""Store and read match feedback."""

from __future__ import annotations

from sqlmodel import select

from matcher.errors import NotFound
from matcher.feedback.models import MatchFeedback
from matcher.feedback.schemas import FeedbackCreate
from matcher.platforms.models import Platform
from matcher.runtime import Runtime
from matcher.technologies.models import Technology


def record_feedback(rt: Runtime, technology_id: int, platform_id: int, body: FeedbackCreate) -> MatchFeedback:
    """Store a verdict, with the pair's current score so later analysis can relate verdicts to scores."""
    with rt.session() as s:
        tech = s.get(Technology, technology_id)
        if tech is None:
            raise NotFound(f"Technology {technology_id} does not exist.")
        if s.get(Platform, platform_id) is None:
            raise NotFound(f"Platform {platform_id} does not exist.")
    from matcher.technologies.service import pair_score

    row = MatchFeedback(
        technology_id=technology_id,
        platform_id=platform_id,
        verdict=body.verdict,
        reason=body.reason,
        score=pair_score(rt, tech, platform_id),
    )
    with rt.session() as s:
        s.add(row)
        s.commit()
        s.refresh(row)
    return row


def list_feedback(rt: Runtime, technology_id: int | None = None) -> list[MatchFeedback]:
    stmt = select(MatchFeedback).order_by(MatchFeedback.id)  # type: ignore[arg-type]
    if technology_id is not None:
        stmt = stmt.where(MatchFeedback.technology_id == technology_id)
    with rt.session() as s:
        return list(s.exec(stmt).all())
