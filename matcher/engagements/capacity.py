"""A platform that declines for want of capacity: its capacity factor is zero until its operator raises
``capacity`` again (``matcher.platforms.service.update_platform`` lifts the pause)."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session

from matcher import indexing
from matcher.accounts.principal import Principal
from matcher.audit.service import SYSTEM, record
from matcher.dbtypes import utcnow
from matcher.indexing import PLATFORM
from matcher.matching.engine import MatchEngine
from matcher.notifications.outbox import rematch_technologies_of
from matcher.platforms.models import Platform
from matcher.sync import record_changes


def decliner(actor: str, platform_id: int) -> Principal:
    """The audit trail's actor for an engagement's actor name: the platform itself, or an administrator for it."""
    return Principal("platform", platform_id=platform_id) if actor == "platform" else Principal("admin")


def pause_capacity(db: Engine, engine: MatchEngine, platform_id: int, actor: Principal = SYSTEM) -> None:
    """Zero the platform's capacity factor until its operator raises ``capacity`` (a PATCH with free slots); the
    audit trail records who declined for want of capacity."""
    with engine.write_lock, Session(db, expire_on_commit=False) as s:
        platform = s.get(Platform, platform_id)
        if platform is None or platform.capacity_paused_at is not None:
            return
        platform.capacity_paused_at = utcnow()
        s.add(platform)
        record(
            s,
            platform_id,
            "platform",
            "capacity_paused",
            actor,
            {"capacity_paused_at": [None, platform.capacity_paused_at.isoformat()]},
            platform_id,
        )
        # Its scores fall a little: technologies it was best for are worked out again (their verdict may turn).
        rematch_technologies_of(s, [platform_id])
        record_changes(s, engine.origin, PLATFORM, [platform_id])
        s.commit()
        s.refresh(platform)
        indexing.apply(engine, PLATFORM, [(platform_id, platform, None)])
