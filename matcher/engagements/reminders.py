"""One reminder for a notified technology a platform has not answered within ``response_reminder_days``.

The reminder goes to the platform's inbox and its e-mail digest (not to its webhooks: an integration has the
original ``match.created``). It is sent once per pair, ever: the inbox's uniqueness per (platform, technology,
type) holds even when several workers look at once. A technology closed or answered meanwhile gets none.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, and_, exists
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from matcher.dbtypes import utcnow
from matcher.engagements.models import PlatformResponse
from matcher.notifications.models import Notification
from matcher.notifications.outbox import MATCH_CREATED, RESPONSE_REMINDER, store_notifications
from matcher.settings import Settings
from matcher.technologies.models import Technology

log = logging.getLogger("pilotmatch.reminders")

#: Reminders stored per pass: a backlog (the first run after an upgrade) drains over a few passes.
BATCH = 500


def send_reminders(db: Engine, settings: Settings, now: datetime | None = None) -> int:
    """Store the reminders that are due at ``now`` (the real time unless a test passes another); returns how
    many."""
    now = now or utcnow()
    cutoff = now - timedelta(days=settings.response_reminder_days)
    reminder = aliased(Notification)
    with Session(db, expire_on_commit=False) as s:
        due = s.exec(
            select(Notification, Technology)
            .join(Technology, Technology.id == Notification.technology_id)  # type: ignore[arg-type]
            .where(
                Notification.type == MATCH_CREATED,
                Notification.created_at <= cutoff,  # type: ignore[operator]
                Technology.status != "closed",
                ~exists().where(
                    and_(
                        PlatformResponse.platform_id == Notification.platform_id,
                        PlatformResponse.technology_id == Notification.technology_id,
                    )
                ),
                ~exists().where(
                    and_(
                        reminder.platform_id == Notification.platform_id,
                        reminder.technology_id == Notification.technology_id,
                        reminder.type == RESPONSE_REMINDER,
                    )
                ),
            )
            .order_by(Notification.id)  # type: ignore[arg-type]
            .limit(BATCH)
        ).all()
        notes = [_reminder(n, t, now, settings) for n, t in due]
        try:
            added = store_notifications(s, notes, email=settings.smtp_url is not None, webhooks=False)
            s.commit()
        except IntegrityError:  # another worker stored some of these first; the next pass sees them
            s.rollback()
            return 0
    if added:
        log.info("event=reminders_created count=%d", added)
    return added


def _reminder(note: Notification, tech: Technology, now: datetime, settings: Settings) -> dict:
    days = settings.response_reminder_days
    data = {
        "platform_id": note.platform_id,
        "technology": dict(note.payload.get("data", {}).get("technology", {}), status=tech.status),
        "notified_at": note.created_at.astimezone(UTC).isoformat(timespec="seconds"),
        "message": f"Not answered after {days:g} days: answer interested, or decline with a reason.",
    }
    return {
        "platform_id": note.platform_id,
        "technology_id": note.technology_id,
        "type": RESPONSE_REMINDER,
        "score": note.score,
        "created_at": now,
        "payload": {"type": RESPONSE_REMINDER, "timestamp": now.isoformat(timespec="seconds"), "data": data},
    }
