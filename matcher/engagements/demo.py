"""The demo's loop: a realistic spread of answers and engagements over the demo technologies' notifications, so
the funnel and activity reports show something on a fresh ``make run``.

Everything goes through the real services (``respond``, ``request_introduction``, ``move_introduction``), then
the timestamps are spread over the past weeks (notified, answered hours later, engaged days later), so response
times and "last active" read like a network in use. The spread is fixed by the technologies' order: the same
demo gives the same loop. The most-notified platform answers nothing: the "activate a batch" list has an entry.
Declines use reasons that do not change the ranking (scale, stage, other), so the demo's matches stay those of
its profiles.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, update
from sqlmodel import Session, select

from matcher.dbtypes import utcnow
from matcher.engagements.introductions import move_introduction, request_introduction
from matcher.engagements.models import Introduction, IntroductionEvent, PlatformResponse
from matcher.engagements.responses import respond
from matcher.engagements.schemas import IntroductionPatch, IntroductionRequest, ResponseIn
from matcher.matching.engine import MatchEngine
from matcher.notifications.models import Notification
from matcher.notifications.outbox import MATCH_CREATED
from matcher.settings import Settings
from matcher.technologies.models import Technology

#: Per technology (by position, cycling): what its best notified platform and its researcher do.
#: (platform answers interested, researcher asks, stages the engagement goes through)
_STORIES: tuple[tuple[bool, bool, tuple[dict, ...]], ...] = (
    (
        True,
        True,
        ({"status": "agreed"}, {"status": "piloting"}, {"status": "completed", "outcome": "succeeded"}),
    ),
    (True, True, ({"status": "agreed"}, {"status": "piloting"})),
    (True, False, ()),
    (True, True, ({"status": "agreed"},)),
    (
        True,
        True,
        ({"status": "agreed"}, {"status": "piloting"}, {"status": "completed", "outcome": "failed"}),
    ),
    (False, True, ()),
    (True, True, ()),
    (True, True, ({"status": "withdrawn", "note": "Funding moved to another line."},)),
)
_DECLINES = ("wrong_scale", "too_early_stage", "other")


def seed_engagements(db: Engine, engine: MatchEngine, settings: Settings, now: datetime | None = None) -> int:
    """Answer and engage the demo's notifications; returns how many answers were recorded."""
    now = now or utcnow()
    with Session(db, expire_on_commit=False) as s:
        notes = s.exec(
            select(Notification)
            .where(Notification.type == MATCH_CREATED)
            .order_by(Notification.technology_id, Notification.score.desc(), Notification.id)  # type: ignore[union-attr]
        ).all()
        technologies = {t.id: t for t in s.exec(select(Technology)).all()}
    notified: dict[int, list[int]] = {}
    per_platform: dict[int, int] = {}
    for n in notes:
        notified.setdefault(n.technology_id, []).append(n.platform_id)  # type: ignore[arg-type]
        per_platform[n.platform_id] = per_platform.get(n.platform_id, 0) + 1
    silent = max(per_platform, key=lambda pid: (per_platform[pid], -pid)) if per_platform else None
    answers = 0
    for k, (tid, platforms) in enumerate(sorted(notified.items())):
        tech = technologies[tid]
        speaking = [pid for pid in platforms if pid != silent]
        if not speaking:
            continue
        interested, asks, stages = _STORIES[k % len(_STORIES)]
        best = speaking[0]
        if interested:
            respond(db, engine, settings, best, tid, ResponseIn(decision="interested"))
            answers += 1
        if len(speaking) > 1 and k % 2 == 0:
            reason = _DECLINES[(k // 2) % len(_DECLINES)]
            respond(db, engine, settings, speaking[1], tid, ResponseIn(decision="declined", reason=reason))
            answers += 1
        if asks:
            view, _ = request_introduction(db, engine, settings, tech, IntroductionRequest(platform_id=best))
            for i, stage in enumerate(stages):
                actor = "platform" if i % 2 == 0 else "researcher"
                move_introduction(db, engine, settings, view.id, IntroductionPatch(**stage), actor)
    _spread_in_time(db, now)
    return answers


def _spread_in_time(db: Engine, now: datetime) -> None:
    """Move the loop's timestamps into the past weeks: each technology notified a few days after the one before,
    answered 4 to 70 hours after, and its engagement's steps a week apart."""
    with Session(db) as s:
        notes = s.exec(select(Notification).where(Notification.type == MATCH_CREATED)).all()
        order = sorted({n.technology_id for n in notes})
        start = {tid: now - timedelta(days=60 - 3 * i) for i, tid in enumerate(order)}
        for n in notes:
            s.exec(
                update(Notification).where(Notification.id == n.id).values(created_at=start[n.technology_id])
            )  # type: ignore[call-overload, index]
        for r in s.exec(select(PlatformResponse)).all():
            at = start.get(r.technology_id, now) + timedelta(
                hours=4 + (r.technology_id * 13 + r.platform_id) % 67
            )
            s.exec(
                update(PlatformResponse)  # type: ignore[call-overload]
                .where(PlatformResponse.id == r.id)
                .values(first_responded_at=at, responded_at=at)
            )
        for intro in s.exec(select(Introduction)).all():
            asked = start.get(intro.technology_id, now) + timedelta(days=3)
            events = s.exec(
                select(IntroductionEvent)
                .where(IntroductionEvent.introduction_id == intro.id)
                .order_by(IntroductionEvent.id)  # type: ignore[arg-type]
            ).all()
            for i, e in enumerate(events):
                when = asked + timedelta(days=7 * max(0, i - 1))
                s.exec(update(IntroductionEvent).where(IntroductionEvent.id == e.id).values(created_at=when))  # type: ignore[call-overload]
            last = asked + timedelta(days=7 * max(0, len(events) - 2))
            made = asked if intro.introduced_at is not None else None
            s.exec(
                update(Introduction)  # type: ignore[call-overload]
                .where(Introduction.id == intro.id)
                .values(created_at=asked, introduced_at=made, updated_at=last)
            )
        s.commit()
