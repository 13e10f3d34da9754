"""Administrator keys: the full admin issues keys for other administrators, each with a label, and for province
administrators, who may do what the admin does but only over the platforms, applications and technologies of
their province."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, delete, select

from matcher.accounts.models import ApiKey, WebSignIn
from matcher.accounts.principal import PROVINCE
from matcher.accounts.schemas import AdminKeyCreate, AdminKeyOut
from matcher.accounts.service import hash_key, new_key
from matcher.dbtypes import utcnow
from matcher.errors import InvalidInput, NotFound
from matcher.taxonomy import Taxonomy

#: Roles of the keys listed here (platform keys live under their platform).
ADMIN_ROLES = ("admin", PROVINCE)


def issue_admin_key(db: Engine, taxonomy: Taxonomy, body: AdminKeyCreate) -> tuple[ApiKey, str]:
    """Store a new administrator key (hashed); returns the row and the key, which the caller shows once."""
    if body.scope == "province":
        if not body.province:
            raise InvalidInput("A province key needs its province.", field="province")
        province: str | None = taxonomy.normalize_province(body.province)
    elif body.province:
        raise InvalidInput(
            "A full administrator key governs every province: leave province out.", field="province"
        )
    else:
        province = None
    role = PROVINCE if body.scope == "province" else "admin"
    key = new_key(role)
    with Session(db, expire_on_commit=False) as s:
        row = ApiKey(role=role, province=province, label=body.label, prefix=key[:16], key_hash=hash_key(key))
        s.add(row)
        s.commit()
        s.refresh(row)
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


def revoke_admin_key(db: Engine, key_id: int) -> None:
    """Revoke at once, and end the web sessions signed in with it in the same transaction."""
    with Session(db) as s:
        row = s.get(ApiKey, key_id)
        if row is None or row.role not in ADMIN_ROLES:
            raise NotFound(f"Administrator key {key_id} does not exist.")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            s.add(row)
        s.exec(delete(WebSignIn).where(WebSignIn.key_digest == row.key_hash))  # type: ignore[call-overload, arg-type]
        s.commit()
