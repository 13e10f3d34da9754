"""How readily each platform answers the technologies it is told of: the ranking's tie-breaker.

A platform's responsiveness is its smoothed answer rate, ``(answered + 1) / (notified + 2)`` over the
``match.created`` notifications it received: a platform never notified sits at 0.5, one that answered none of ten
at 0.08. Ranking reads it only to order platforms whose scores are exactly equal (two profiles of the same
capabilities): it never lifts a less relevant platform over a more relevant one.
"""

from __future__ import annotations

from sqlalchemy import Engine, and_, func
from sqlmodel import Session, select

from matcher.engagements.models import PlatformResponse
from matcher.notifications.models import Notification
from matcher.notifications.outbox import MATCH_CREATED


def responsiveness(db: Engine) -> dict[int, float]:
    """Every notified platform's smoothed answer rate (platforms never notified are left out: 0.5)."""
    with Session(db) as s:
        rows = s.exec(
            select(
                Notification.platform_id,
                func.count(Notification.id),
                func.count(PlatformResponse.id),
            )
            .join(
                PlatformResponse,
                and_(
                    PlatformResponse.platform_id == Notification.platform_id,
                    PlatformResponse.technology_id == Notification.technology_id,
                ),
                isouter=True,
            )
            .where(Notification.type == MATCH_CREATED)
            .group_by(Notification.platform_id)
        ).all()
    return {pid: (answered + 1) / (notified + 2) for pid, notified, answered in rows}
