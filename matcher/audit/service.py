"""Record and read a platform's audit trail.

Every change to a platform, its keys, its webhooks and its tier is written in the same transaction as the change
itself (``record``), so a change and its record stand or fall together. Readers see the trail through
``platform_history``, which hides from a platform's own key who the other actors' keys were.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from matcher.accounts.principal import PROVINCE, Principal
from matcher.audit.models import AuditEvent
from matcher.audit.schemas import AuditActor, AuditEventOut
from matcher.errors import NotFound
from matcher.platforms.permissions import platform_province

#: The actor of changes the service makes by itself (marking a profile stale, say).
SYSTEM = Principal("system")

#: The actor of changes made from the command line (``pilotmatch import platforms``, the demo's seeding).
CLI = Principal("cli")


def actor_kind(actor: Principal) -> str:
    """How the trail names an actor: ``admin``, ``province_key``, ``platform_key``, ``operator_session`` (a
    platform key signed in on the web), ``cli`` or ``system``."""
    if actor.role == "admin":
        return "admin"
    if actor.role == PROVINCE:
        return "province_key"
    if actor.role == "platform":
        return "operator_session" if actor.web else "platform_key"
    return actor.role


def _plain(value: Any) -> Any:
    """A JSON-safe copy of a field value (timestamps as ISO 8601)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def field_changes(
    before: Mapping[str, Any], after: Mapping[str, Any], fields: Iterable[str]
) -> dict[str, list]:
    """``{field: [before, after]}`` for each of ``fields`` whose value differs."""
    return {f: [_plain(before.get(f)), _plain(after.get(f))] for f in fields if before.get(f) != after.get(f)}


def record(
    s: Session,
    platform_id: int,
    entity: str,
    action: str,
    actor: Principal,
    changes: Mapping[str, list] | None = None,
    entity_id: int | None = None,
) -> None:
    """Add one event to the caller's transaction: it commits with the change it describes, or not at all."""
    s.add(
        AuditEvent(
            platform_id=platform_id,
            entity=entity,
            entity_id=entity_id,
            action=action,
            actor_kind=actor_kind(actor),
            actor_key_id=actor.key_id,
            actor_platform_id=actor.platform_id,
            changes=dict(changes or {}),
        )
    )


def platform_history(
    db: Engine, platform_id: int, viewer: Principal, *, limit: int = 200, before_id: int | None = None
) -> list[AuditEventOut]:
    """The platform's trail, newest first (``before_id`` pages back). Administrators see every actor's key; the
    platform's own key sees its own keys and only the kind of anyone else's (another platform's key or an
    administrator's key id is not its business). Works for a deleted platform too: the trail outlives it."""
    stmt = select(AuditEvent).where(AuditEvent.platform_id == platform_id)
    if before_id is not None:
        stmt = stmt.where(AuditEvent.id < before_id)  # type: ignore[operator]
    with Session(db) as s:
        rows = s.exec(stmt.order_by(AuditEvent.id.desc()).limit(limit)).all()  # type: ignore[union-attr]
    return [_out(row, viewer.is_administrator) for row in rows]


def _out(row: AuditEvent, full: bool) -> AuditEventOut:
    own = row.actor_platform_id is not None and row.actor_platform_id == row.platform_id
    shown = full or own
    actor = AuditActor(
        kind=row.actor_kind,
        key_id=row.actor_key_id if shown else None,
        platform_id=row.actor_platform_id if shown else None,
    )
    return AuditEventOut(
        id=row.id,  # type: ignore[arg-type]
        at=row.at,
        entity=row.entity,
        entity_id=row.entity_id,
        action=row.action,
        actor=actor,
        changes=row.changes,
    )


#: Platform events whose changes say where the platform was.
PLACING_ACTIONS = ("created", "updated", "deleted")


def trail_province(db: Engine, platform_id: int) -> str | None:
    """The province a deleted platform was last in, read from its trail (so its province's administrator can
    still read it): the latest platform event that names its province. That is the deletion itself when the
    platform was deleted with ``delete_platform``; a platform removed otherwise (``reset_to_demo``) has no such
    event, and its last update need not have touched the province, so earlier events are read too."""
    with Session(db) as s:
        events = s.exec(
            select(AuditEvent.action, AuditEvent.changes)
            .where(
                AuditEvent.platform_id == platform_id,
                AuditEvent.entity == "platform",
                # Where the platform was, not where an edit held for review (and maybe rejected) proposed it.
                AuditEvent.action.in_(PLACING_ACTIONS),  # type: ignore[attr-defined]
            )
            .order_by(AuditEvent.id.desc())  # type: ignore[union-attr]
        )
        for action, changes in events:
            if "province" in changes:
                before, after = changes["province"]
                # A deletion's "after" is nothing; an update's is where the platform went.
                return before if action == "deleted" else after
    return None


def readable_history(
    db: Engine, platform_id: int, viewer: Principal, *, limit: int = 200, before_id: int | None = None
) -> list[AuditEventOut]:
    """The platform's trail as ``viewer`` may read it: administrators over the platform and its own key; a deleted
    platform's, administrators over the province it was in (the full admin also when it had none). Anyone else,
    as for a platform that never existed, gets ``NotFound``."""
    exists, province = platform_province(db, platform_id)
    if exists:
        allowed = viewer.acts_for(platform_id, province)
    else:
        province = trail_province(db, platform_id)
        allowed = viewer.governs(province) or (viewer.is_admin and province is None)
    events = platform_history(db, platform_id, viewer, limit=limit, before_id=before_id) if allowed else []
    if not allowed or (not exists and not events):
        raise NotFound(f"Platform {platform_id} does not exist.")
    return events
