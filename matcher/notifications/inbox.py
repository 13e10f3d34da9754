"""A platform's inbox: its notifications newest first, each with its webhook deliveries; read marks and
re-delivery of dead-lettered deliveries."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, select

from matcher.dbtypes import utcnow
from matcher.errors import NotFound
from matcher.notifications.models import Notification, WebhookDelivery
from matcher.pagination import keyset_page


def list_notifications(
    db: Engine, platform_id: int, *, cursor: str | None = None, limit: int = 20, type: str | None = None
) -> tuple[list[tuple[Notification, list[WebhookDelivery]]], str | None]:
    """Newest first, with each notification's deliveries; ``type`` keeps one kind of event."""
    stmt = select(Notification).where(Notification.platform_id == platform_id)
    if type is not None:
        stmt = stmt.where(Notification.type == type)
    with Session(db, expire_on_commit=False) as s:
        rows, next_cursor = keyset_page(s, stmt, Notification, cursor, limit, newest_first=True)
        ids = [r.id for r in rows]
        deliveries = s.exec(select(WebhookDelivery).where(WebhookDelivery.notification_id.in_(ids))).all()  # type: ignore[union-attr]
    by_note: dict[int, list[WebhookDelivery]] = {}
    for d in deliveries:
        by_note.setdefault(d.notification_id, []).append(d)
    return [(r, by_note.get(r.id, [])) for r in rows], next_cursor


def _own_notification(s: Session, platform_id: int, notification_id: int) -> Notification:
    note = s.get(Notification, notification_id)
    if note is None or note.platform_id != platform_id:
        raise NotFound(f"Notification {notification_id} does not exist for platform {platform_id}.")
    return note


def get_notification(db: Engine, platform_id: int, notification_id: int) -> Notification:
    with Session(db, expire_on_commit=False) as s:
        return _own_notification(s, platform_id, notification_id)


def mark_read(db: Engine, platform_id: int, notification_id: int) -> Notification:
    with Session(db, expire_on_commit=False) as s:
        note = _own_notification(s, platform_id, notification_id)
        if note.read_at is None:
            note.read_at = utcnow()
            s.add(note)
            s.commit()
        return note


def redeliver(db: Engine, platform_id: int, notification_id: int) -> int:
    """Queue a notification's failed (dead-lettered) deliveries again; returns how many were queued."""
    with Session(db, expire_on_commit=False) as s:
        _own_notification(s, platform_id, notification_id)
        dead = s.exec(
            select(WebhookDelivery).where(
                WebhookDelivery.notification_id == notification_id, WebhookDelivery.status == "dead"
            )
        ).all()
        now = utcnow()
        for d in dead:
            d.status, d.attempts, d.next_attempt_at, d.lease_until, d.updated_at = (
                "pending",
                0,
                now,
                None,
                now,
            )
            s.add(d)
        s.commit()
        return len(dead)


def deliveries_of(db: Engine, notification_id: int) -> list[WebhookDelivery]:
    with Session(db, expire_on_commit=False) as s:
        return list(
            s.exec(select(WebhookDelivery).where(WebhookDelivery.notification_id == notification_id)).all()
        )
