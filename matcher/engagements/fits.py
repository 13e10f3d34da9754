"""Which pairs may talk: a platform answers technologies that fit it, a researcher asks matched platforms.

"Fits" is what either side has been shown as a fit: the technology among the platform's best (its reverse
direction), the platform among the technology's best (its matches), both at least "possible" (a weak match is
no fit, even on a network small enough for every pair to be listed), or a notification of the pair. Both lists
reach ``FIT_REACH`` deep, the most a caller can page to.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, select

from matcher.engagements.declines import NOT_A_FIT
from matcher.engagements.models import Introduction, PlatformResponse
from matcher.matching.engine import MatchEngine
from matcher.matching.query import MAX_LIMIT
from matcher.notifications.models import Notification
from matcher.notifications.outbox import ASSIGNMENT_MADE, MATCH_CREATED
from matcher.technologies.models import Technology
from matcher.technologies.service import matches_for_technology

FIT_REACH = MAX_LIMIT


def was_notified(s: Session, platform_id: int, technology_id: int) -> bool:
    return (
        s.exec(
            select(Notification.id).where(
                Notification.platform_id == platform_id,
                Notification.technology_id == technology_id,
                Notification.type.in_((MATCH_CREATED, ASSIGNMENT_MADE)),  # type: ignore[attr-defined]
            )
        ).first()
        is not None
    )


def in_matches(db: Engine, engine: MatchEngine, technology: Technology, platform_id: int) -> bool:
    """The platform is among the technology's matches as its researcher sees them, and fits at least
    "possibly" (a weak match is not a fit, however short the list)."""
    return any(
        m.platform_id == platform_id and m.fit != "weak"
        for m in matches_for_technology(db, engine, technology, FIT_REACH).matches
    )


def in_reverse(engine: MatchEngine, platform_id: int, technology_id: int) -> bool:
    """The technology is among the platform's "technologies that fit", at least "possibly"."""
    if not engine.contains("platforms", platform_id):
        return False
    return any(
        m.technology_id == technology_id and m.fit != "weak"
        for m in engine.technologies_for(platform_id, FIT_REACH).matches
    )


def platform_may_answer(db: Engine, engine: MatchEngine, technology: Technology, platform_id: int) -> bool:
    """A platform answers a technology it was told of, that its reverse direction lists, or whose researcher
    asked to meet it."""
    with Session(db) as s:
        if was_notified(s, platform_id, technology.id) or _asked(s, platform_id, technology.id):  # type: ignore[arg-type]
            return True
    return in_reverse(engine, platform_id, technology.id) or in_matches(db, engine, technology, platform_id)  # type: ignore[arg-type]


def researcher_may_ask(db: Engine, engine: MatchEngine, technology: Technology, platform_id: int) -> bool:
    """A researcher asks to meet a platform among their matches, one that was told of their technology, or one
    that said it is interested; never one that declined the pair as the wrong sector or process."""
    with Session(db) as s:
        answer = s.exec(
            select(PlatformResponse).where(
                PlatformResponse.platform_id == platform_id, PlatformResponse.technology_id == technology.id
            )
        ).first()
        if answer is not None and answer.decision == "interested":
            return True
        if answer is not None and answer.reason in NOT_A_FIT:
            return False  # it said the pair does not fit: it left this technology's matches for good
        if was_notified(s, platform_id, technology.id):  # type: ignore[arg-type]
            return True
    return in_matches(db, engine, technology, platform_id)


def _asked(s: Session, platform_id: int, technology_id: int) -> bool:
    return (
        s.exec(
            select(Introduction.id).where(
                Introduction.platform_id == platform_id, Introduction.technology_id == technology_id
            )
        ).first()
        is not None
    )
