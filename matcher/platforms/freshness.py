"""Fresh profiles: a profile is as fresh as its last edit or confirmation, and one left alone too long goes stale.

A profile's freshness date is the latest of ``created_at``, ``edited_at`` (any profile field changed) and
``confirmed_at`` (its operator, or an administrator over it, said it is still true). The delivery worker's sweep
(``sweep_profiles``) asks the operator to confirm a profile ``PILOTMATCH_PROFILE_STALE_DAYS`` after that date (a
``profile.confirm_requested`` notification: inbox, webhooks, e-mail digest) and, when
``PILOTMATCH_PROFILE_STALE_GRACE_DAYS`` pass after the request with no confirmation or edit, marks it stale.

A stale profile stays matchable: it is shown as stale, counted apart in coverage and ranks after fresh profiles
of the same score (``Ranker.rank_key``), never below a fresh one that scores lower. An edit or a confirmation
clears the request and the mark, and the operator is asked again a year (``STALE_DAYS``) later.

Each request and each mark is claimed by one conditional UPDATE and committed with its notification, audit event
and change-log entry, one platform at a time: several workers sweeping at once, or a worker killed half-way,
never ask twice, and a row that cannot be handled fails alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, or_, update
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import Session, select

from matcher import indexing
from matcher.accounts.principal import Principal
from matcher.audit.service import SYSTEM, field_changes, record
from matcher.dbtypes import utcnow
from matcher.errors import NotFound
from matcher.indexing import PLATFORM
from matcher.matching.engine import MatchEngine
from matcher.notifications.outbox import PROFILE_CONFIRM_REQUESTED, store_notifications
from matcher.platforms.models import Platform
from matcher.settings import Settings
from matcher.sync import record_changes

log = logging.getLogger("pilotmatch.freshness")

#: Platforms asked, and platforms marked, per sweep: a backlog (the first sweep of an old registry) drains over
#: a few passes of the worker.
BATCH = 200

#: The bookkeeping a confirmation (and an edit) resets, as the audit trail records it.
FRESHNESS_FIELDS = ("confirmed_at", "stale_reminded_at", "stale_since")


@dataclass(frozen=True, slots=True)
class Sweep:
    """What one sweep did: operators asked to confirm, profiles marked stale, rows that failed (logged)."""

    reminded: int = 0
    marked_stale: int = 0
    failed: int = 0


def freshness_date(p: Platform) -> datetime:
    """When the profile was last known true: created, edited or confirmed, whichever is latest."""
    return max(d for d in (p.created_at, p.edited_at, p.confirmed_at) if d is not None)


def clear_staleness(row: Platform) -> None:
    """Clear a pending request to confirm and a stale mark (an edit or a confirmation). Both columns are written
    even when they were clear when the row was read: a sweep in another process may have set them since."""
    row.stale_reminded_at = row.stale_since = None
    flag_modified(row, "stale_reminded_at")
    flag_modified(row, "stale_since")


def confirm_platform(
    db: Engine, engine: MatchEngine, platform_id: int, actor: Principal, now: datetime | None = None
) -> Platform:
    """Record that the profile is still true: ``confirmed_at`` is ``now``, a pending request and a stale mark are
    cleared, and the match engine of every process hears of it through the change log."""
    now = now or utcnow()
    with engine.write_lock, Session(db, expire_on_commit=False) as s:
        row = s.get(Platform, platform_id)
        if row is None:
            raise NotFound(f"Platform {platform_id} does not exist.")
        before = {f: getattr(row, f) for f in FRESHNESS_FIELDS}
        row.confirmed_at = row.updated_at = now
        clear_staleness(row)
        after = {f: getattr(row, f) for f in FRESHNESS_FIELDS}
        record(
            s,
            platform_id,
            "platform",
            "confirmed",
            actor,
            field_changes(before, after, FRESHNESS_FIELDS),
            platform_id,
        )
        s.add(row)
        record_changes(s, engine.origin, PLATFORM, [platform_id])
        s.commit()
        s.refresh(row)
        indexing.apply(engine, PLATFORM, [(platform_id, row, None)])
    return row


def sweep_profiles(
    db: Engine, engine: MatchEngine, settings: Settings, now: datetime | None = None, batch: int = BATCH
) -> Sweep:
    """Ask the operators of profiles due for confirmation at ``now`` (the real time unless a test passes another),
    then mark stale the profiles whose request went unanswered for the grace period."""
    now = now or utcnow()
    reminded, failed_r = _each(
        db, _due_for_request(settings, now), batch, lambda pid: _request(db, settings, pid, now)
    )
    marked, failed_m = _each(
        db, _due_for_mark(settings, now), batch, lambda pid: _mark_stale(db, engine, settings, pid, now)
    )
    if reminded or marked:
        log.info("event=profile_sweep confirm_requested=%d marked_stale=%d", reminded, marked)
    return Sweep(reminded, marked, failed_r + failed_m)


def _each(db: Engine, due: list[Any], batch: int, handle: Callable[[int], bool]) -> tuple[int, int]:
    """Handle each due platform on its own (a failure is logged and leaves the others alone); returns how many
    were handled and how many failed."""
    with Session(db) as s:
        ids = s.exec(select(Platform.id).where(*due).order_by(Platform.id).limit(batch)).all()  # type: ignore[arg-type]
    done = failed = 0
    for pid in ids:
        try:
            done += handle(pid)
        except Exception:
            failed += 1
            log.exception("event=profile_sweep_error platform=%s", pid)
    return done, failed


def _due_for_request(settings: Settings, now: datetime) -> list[Any]:
    """Active profiles neither edited nor confirmed (nor created) within ``profile_stale_days``, not asked yet."""
    cutoff = now - timedelta(days=settings.profile_stale_days)
    return [
        Platform.active == True,  # noqa: E712
        Platform.stale_reminded_at == None,  # noqa: E711
        Platform.stale_since == None,  # noqa: E711
        Platform.created_at <= cutoff,  # type: ignore[operator]
        or_(Platform.edited_at == None, Platform.edited_at <= cutoff),  # type: ignore[operator]  # noqa: E711
        or_(Platform.confirmed_at == None, Platform.confirmed_at <= cutoff),  # type: ignore[operator]  # noqa: E711
    ]


def _due_for_mark(settings: Settings, now: datetime) -> list[Any]:
    """Active profiles asked at least ``profile_stale_grace_days`` ago and not marked yet (an edit or a
    confirmation since would have cleared the request)."""
    asked_before = now - timedelta(days=settings.profile_stale_grace_days)
    return [
        Platform.active == True,  # noqa: E712
        Platform.stale_since == None,  # noqa: E711
        Platform.stale_reminded_at <= asked_before,  # type: ignore[operator]
    ]


def _claim(s: Session, platform_id: int, due: list[Any], **values: Any) -> Platform | None:
    """Set ``values`` on the platform if it is still due (one conditional UPDATE: of several sweeps, one wins),
    and load it; None if another sweep, an edit or a confirmation got there first."""
    claimed = s.execute(update(Platform).where(Platform.id == platform_id, *due).values(**values))  # type: ignore[arg-type]
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return s.get(Platform, platform_id)


def _request(db: Engine, settings: Settings, platform_id: int, now: datetime) -> bool:
    """Ask one platform's operator to confirm its profile: the request, its audit event and the notification
    (with its deliveries and e-mail) commit together."""
    with Session(db, expire_on_commit=False) as s:
        row = _claim(s, platform_id, _due_for_request(settings, now), stale_reminded_at=now)
        if row is None:
            return False
        record(
            s,
            platform_id,
            "platform",
            "confirm_requested",
            SYSTEM,
            {"stale_reminded_at": [None, now.isoformat()]},
            platform_id,
        )
        store_notifications(s, [_confirm_request(row, settings, now)], email=settings.smtp_url is not None)
        s.commit()
    return True


def _mark_stale(db: Engine, engine: MatchEngine, settings: Settings, platform_id: int, now: datetime) -> bool:
    """Mark one profile stale, in the database and (through the change log) in every process's match engine."""
    with engine.write_lock, Session(db, expire_on_commit=False) as s:
        row = _claim(s, platform_id, _due_for_mark(settings, now), stale_since=now, updated_at=now)
        if row is None:
            return False
        record(
            s,
            platform_id,
            "platform",
            "marked_stale",
            SYSTEM,
            {"stale_since": [None, now.isoformat()]},
            platform_id,
        )
        record_changes(s, engine.origin, PLATFORM, [platform_id])
        (ready,) = indexing.prepare(
            engine, PLATFORM, [row]
        )  # before the commit: a row that cannot be indexed fails alone
        s.commit()
        indexing.apply(engine, PLATFORM, [(platform_id, row, ready)])
    return True


def _confirm_request(p: Platform, settings: Settings, now: datetime) -> dict:
    """The fields of one ``profile.confirm_requested`` notification (no technology: it is about the profile)."""
    base = settings.public_url.rstrip("/")
    days = settings.profile_stale_days
    stale_on = now + timedelta(days=settings.profile_stale_grace_days)
    data = {
        "platform_id": p.id,
        "name": p.name,
        "fresh_since": freshness_date(p).isoformat(timespec="seconds"),
        "stale_on": stale_on.isoformat(timespec="seconds"),
        "confirm_url": f"{base}/v1/platforms/{p.id}/confirm",
        "profile_url": f"{base}/platforms/{p.id}",
        "message": f"Not edited or confirmed for {days:g} days: confirm the profile is still true, or edit it. "
        f"Unconfirmed, it is marked stale on {stale_on.date().isoformat()}.",
    }
    return {
        "platform_id": p.id,
        "technology_id": None,
        "type": PROFILE_CONFIRM_REQUESTED,
        "created_at": now,
        "payload": {
            "type": PROFILE_CONFIRM_REQUESTED,
            "timestamp": now.isoformat(timespec="seconds"),
            "data": data,
        },
    }
