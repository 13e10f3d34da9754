"""Push a run's assigned pairs to their platforms: one ``assignment.made`` notification per pair, through the
inbox, the platform's webhooks and its e-mail digest, like every other notification.

A platform hears of a technology's assignment once, ever (the inbox is unique per platform, technology and type):
notifying a run again, or a later run that assigns the same pair, creates nothing new. Pairs whose platform was
deleted or deactivated, or whose technology was deleted or closed, since the run are skipped. The notification
names its run (``assignment_id``, and the programme's ``assignment_label`` when the run was given one) and carries
the technology as every event does, without its researcher's contact.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from matcher.accounts.principal import Principal
from matcher.dbtypes import utcnow
from matcher.notifications.outbox import ASSIGNMENT_MADE, store_notifications, technology_body
from matcher.observability import NOTIFICATIONS
from matcher.platforms.models import Platform
from matcher.programmes.models import AssignmentRun
from matcher.programmes.service import get_run
from matcher.settings import Settings
from matcher.technologies.models import Technology

log = logging.getLogger("pilotmatch.programmes")


def assigned_pairs(run: AssignmentRun) -> list[tuple[int, int, float]]:
    """(technology, platform, score) of every pair the run assigned."""
    return [
        (a["technology_id"], pid, score)
        for a in run.result.get("assignments", ())
        for pid, score in zip(a["platform_ids"], a["scores"], strict=True)
    ]


def _notes(s: Session, run: AssignmentRun) -> list[dict]:
    pairs = assigned_pairs(run)
    techs = {
        t.id: t
        for t in s.exec(select(Technology).where(col(Technology.id).in_({t for t, _, _ in pairs}))).all()
        if t.status != "closed"
    }
    live = set(
        s.exec(
            select(Platform.id).where(col(Platform.id).in_({p for _, p, _ in pairs}), Platform.active == True)  # noqa: E712
        ).all()
    )
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return [
        {
            "platform_id": pid,
            "technology_id": tid,
            "type": ASSIGNMENT_MADE,
            "score": score,
            "payload": {
                "type": ASSIGNMENT_MADE,
                "timestamp": now,
                "data": {
                    "platform_id": pid,
                    "assignment_id": run.id,
                    "assignment_label": run.request.get("label"),
                    "technology": technology_body(techs[tid]),
                    "score": score,
                },
            },
        }
        for tid, pid, score in pairs
        if tid in techs and pid in live
    ]


def notify_run(db: Engine, settings: Settings, run_id: int, actor: Principal) -> tuple[int, int]:
    """Store the run's notifications (and their deliveries) in one transaction and mark the run notified; returns
    (created now, pairs that still exist). A concurrent call storing the same pair first makes this one look
    again, so the two together create each notification once."""
    get_run(db, run_id, actor)
    for attempt in range(3):
        with Session(db, expire_on_commit=False) as s:
            run = s.get(AssignmentRun, run_id)
            assert run is not None  # runs are never deleted
            notes = _notes(s, run)
            try:
                created = store_notifications(s, notes, email=settings.smtp_url is not None)
                run.notified_at = run.notified_at or utcnow()
                s.add(run)
                s.commit()
            except IntegrityError:
                s.rollback()
                if attempt == 2:
                    raise
                continue
        if created:
            NOTIFICATIONS.inc(created)
            log.info("event=assignment_notified run=%s count=%d", run_id, created)
        return created, len(notes)
    return 0, 0
