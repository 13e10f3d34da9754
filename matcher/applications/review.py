"""An administrator's decision on an application: approve it (the platform and its key are created) or reject it
with a reason. An edit under review (``revision_of``) is applied to its platform on approval instead.

Approval cannot half-happen: the application is marked approved by a conditional UPDATE (``status = 'pending'``)
inside the very transaction that stores the platform (or the edit), its key and their audit events. Two
administrators approving at once both do the slow part (embedding); the second's UPDATE finds the application no
longer pending, raises ``Conflict`` and its transaction, platform included, rolls back.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine, update
from sqlmodel import Session

from matcher.accounts.models import ApiKey
from matcher.accounts.principal import Principal
from matcher.applications.models import PlatformApplication
from matcher.applications.service import governed_application
from matcher.audit.service import actor_kind, field_changes, record
from matcher.dbtypes import utcnow
from matcher.errors import Conflict, InvalidInput
from matcher.fields import field_errors
from matcher.matching.engine import MatchEngine
from matcher.platforms.models import Platform
from matcher.platforms.schemas import PlatformCreate, PlatformUpdate
from matcher.platforms.service import create_platforms, update_platform
from matcher.settings import Settings

M = TypeVar("M", bound=BaseModel)


def reviewer(actor: Principal) -> str:
    """How an application names who decided on it: the actor's kind and key id (``province_key:7``)."""
    kind = actor_kind(actor)
    return kind if actor.key_id is None else f"{kind}:{actor.key_id}"


def _valid(model: type[M], profile: dict) -> M:
    """The stored profile as a request model; one stored under codes the taxonomy has since dropped is a 422
    naming them (the administrator can reject it, or the applicant apply again)."""
    try:
        return model.model_validate(profile)
    except ValidationError as exc:
        raise InvalidInput.of(field_errors(exc.errors())) from exc


def _pending(row: PlatformApplication) -> None:
    if row.status != "pending":
        raise Conflict(f"Application {row.id} was already {row.status}; it can be decided only once.")


def _decide(s: Session, row: PlatformApplication, actor: Principal, **values: object) -> None:
    """Mark the application decided in the caller's transaction, if it is still pending; else ``Conflict``."""
    result = s.execute(
        update(PlatformApplication)
        .where(PlatformApplication.id == row.id, PlatformApplication.status == "pending")  # type: ignore[arg-type]
        .values(reviewed_by=reviewer(actor), reviewed_at=utcnow(), **values),
        execution_options={"synchronize_session": False},
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"Application {row.id} was decided meanwhile; it can be decided only once.")


def approve_application(
    db: Engine,
    engine: MatchEngine,
    settings: Settings,
    application_id: int,
    actor: Principal,
    tier: str | None = None,
) -> PlatformApplication:
    """Approve: a new platform with the applied profile (``tier`` replacing the one applied for) and its key, or,
    for an edit under review, the edit applied. ``actor`` must administer the application's province and may
    grant only the tiers it may set (``check_platform_write``: 403 otherwise)."""
    row = governed_application(db, application_id, actor)
    _pending(row)
    if row.revision_of is not None:
        if tier is not None:
            raise InvalidInput(
                "An edit under review is approved as it is; change the tier with PATCH.", field="tier"
            )
        _approve_revision(db, engine, settings, row, actor)
    else:
        _approve_new(db, engine, settings, row, actor, tier)
    return governed_application(db, application_id, actor)


def _approve_new(
    db: Engine,
    engine: MatchEngine,
    settings: Settings,
    row: PlatformApplication,
    actor: Principal,
    tier: str | None,
) -> None:
    item = _valid(PlatformCreate, row.profile | ({"tier": tier} if tier is not None else {}))

    def issue(s: Session, stored: list[Platform]) -> None:
        platform_id: int = stored[0].id  # type: ignore[assignment]
        _decide(s, row, actor, status="approved", platform_id=platform_id)
        key = ApiKey(
            role="platform", platform_id=platform_id, prefix=row.key_prefix or "", key_hash=row.key_hash or ""
        )
        s.add(key)
        s.flush()
        record(s, platform_id, "key", "created", actor, {"prefix": [None, key.prefix]}, key.id)
        changes = {"application": [None, row.id]}
        if item.tier != row.profile.get("tier"):
            changes["tier"] = [row.profile.get("tier"), item.tier]
        record(s, platform_id, "platform", "approved", actor, changes, platform_id)

    create_platforms(db, engine, settings, [item], actor=actor, also=issue)


def _approve_revision(
    db: Engine, engine: MatchEngine, settings: Settings, row: PlatformApplication, actor: Principal
) -> None:
    platform_id: int = row.revision_of  # type: ignore[assignment]
    with Session(db) as s:
        platform = s.get(Platform, platform_id)
    if platform is not None:
        now = field_changes(row.published, platform.model_dump(), row.published)
        if now:
            raise Conflict(
                f"The platform's {', '.join(sorted(now))} changed since this edit was held; approving it would undo "
                "that change. Reject it, and the operator can send the edit again."
            )

    def applied(s: Session) -> None:
        _decide(s, row, actor, status="approved", platform_id=platform_id)
        record(s, platform_id, "platform", "approved", actor, {"application": [None, row.id]}, platform_id)

    patch = _valid(PlatformUpdate, row.profile)
    update_platform(db, engine, settings, platform_id, patch, actor=actor, also=applied)


def reject_application(db: Engine, application_id: int, actor: Principal, reason: str) -> PlatformApplication:
    """Reject with a reason the applicant reads. A rejected edit leaves its platform as published, and its trail
    says so."""
    row = governed_application(db, application_id, actor)
    _pending(row)
    with Session(db) as s:
        _decide(s, row, actor, status="rejected", reason=reason)
        if row.revision_of is not None:
            changes = {"application": [None, row.id], "reason": [None, reason]}
            record(s, row.revision_of, "platform", "revision_rejected", actor, changes, row.revision_of)
        s.commit()
    return governed_application(db, application_id, actor)
