"""Administrator keys: the full admin issues keys for other administrators, each with a label, and for province
administrators, who may do what the admin does but only over the platforms, applications and technologies of
their province.

Issuing and revoking them is not in the audit trail, which is each platform's: it is logged instead, one
``event=admin_key_issued`` or ``event=admin_key_revoked`` line with the key's id, prefix, scope, province and label
and who acted (``by=admin``, ``admin:<key id>``, ``cli``).
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine
from sqlmodel import Session, delete, select

from matcher.accounts.models import ApiKey, WebSignIn
from matcher.accounts.principal import PROVINCE, Principal
from matcher.accounts.schemas import AdminKeyCreate, AdminKeyOut
from matcher.accounts.service import hash_key, new_key
from matcher.dbtypes import utcnow
from matcher.errors import NotFound

log = logging.getLogger("pilotmatch.accounts")

#: Roles of the keys listed here (platform keys live under their platform).
ADMIN_ROLES = ("admin", PROVINCE)


def issue_admin_key(db: Engine, body: AdminKeyCreate, actor: Principal) -> tuple[ApiKey, str]:
    """Store a new administrator key (hashed) and log who issued it; returns the row and the key, which the
    caller shows once. ``body`` has checked the scope and province (a model's validation, never skipped)."""
    role = PROVINCE if body.scope == "province" else "admin"
    key = new_key(role)
    with Session(db, expire_on_commit=False) as s:
        row = ApiKey(
            role=role, province=body.province, label=body.label, prefix=key[:16], key_hash=hash_key(key)
        )
        s.add(row)
        s.commit()
        s.refresh(row)
    log.info("event=admin_key_issued", extra={"fields": _fields(row, actor)})
    return row, key


def admin_key_out(row: ApiKey) -> AdminKeyOut:
    return AdminKeyOut(
        id=row.id,  # type: ignore[arg-type]
        scope="province" if row.role == PROVINCE else "full",
        province=row.province,
        label=row.label,
        prefix=row.prefix,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def list_admin_keys(db: Engine) -> list[ApiKey]:
    """Every administrator key ever issued, revoked ones included (with when), oldest first."""
    with Session(db) as s:
        return list(s.exec(select(ApiKey).where(ApiKey.role.in_(ADMIN_ROLES)).order_by(ApiKey.id)).all())  # type: ignore[attr-defined]


def revoke_admin_key(db: Engine, key_id: int, actor: Principal) -> None:
    """Revoke at once, and end the web sessions signed in with it in the same transaction; log who revoked it
    (a key already revoked is not logged again)."""
    with Session(db, expire_on_commit=False) as s:
        row = s.get(ApiKey, key_id)
        if row is None or row.role not in ADMIN_ROLES:
            raise NotFound(f"Administrator key {key_id} does not exist.")
        revoking = row.revoked_at is None
        if revoking:
            row.revoked_at = utcnow()
            s.add(row)
        s.exec(delete(WebSignIn).where(WebSignIn.key_digest == row.key_hash))  # type: ignore[call-overload, arg-type]
        s.commit()
    if revoking:
        log.info("event=admin_key_revoked", extra={"fields": _fields(row, actor)})


def _fields(row: ApiKey, actor: Principal) -> dict[str, object]:
    """What the log says of an administrator key and who acted on it: never the key, only its prefix (as the
    audit trail records platform keys)."""
    return {
        "key_id": row.id,
        "prefix": row.prefix,
        "scope": "province" if row.role == PROVINCE else "full",
        "province": row.province or "",
        "label": row.label or "",
        "by": actor.role if actor.key_id is None else f"{actor.role}:{actor.key_id}",
    }
