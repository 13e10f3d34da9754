"""API keys: generated with ``secrets``, stored as SHA-256 hashes, compared in constant time.

Keys are 32 random bytes, so a fast hash is enough (there is nothing to brute-force); only a short prefix is kept
in clear so people can tell keys apart.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, delete, select

from matcher.accounts.models import ApiKey, AppSecret, WebSignIn
from matcher.accounts.principal import Principal
from matcher.audit.service import SYSTEM, record
from matcher.dbtypes import utcnow
from matcher.errors import NotFound
from matcher.platforms.models import Platform
from matcher.settings import Settings


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key(role: str) -> str:
    return f"pm_{role}_{secrets.token_urlsafe(32)}"


def authenticate(db: Engine, settings: Settings, key: str) -> Principal | None:
    """The principal a bearer key belongs to, or None. ``PILOTMATCH_ADMIN_KEY`` is always an admin key.

    Reads the database and the settings only: checking a key loads no model."""
    return authenticate_digest(db, settings, hash_key(key))


def authenticate_digest(db: Engine, settings: Settings, digest: str) -> Principal | None:
    """The same from the key's SHA-256, which is what a signed-in web session keeps instead of the key: a revoked
    key ends its sessions at the next request."""
    configured = settings.admin_key
    if configured is not None and hmac.compare_digest(digest, hash_key(configured.get_secret_value())):
        return Principal("admin")
    with Session(db) as s:
        row = s.exec(select(ApiKey).where(ApiKey.key_hash == digest, ApiKey.revoked_at == None)).first()  # noqa: E711
        if row is None or not hmac.compare_digest(row.key_hash, digest):
            return None
        return Principal(row.role, row.platform_id, row.id, row.province)


def create_admin_key(db: Engine) -> str:
    """Store a new admin key (hashed) and return it; the caller shows it once."""
    key = new_key("admin")
    with Session(db) as s:
        s.add(ApiKey(role="admin", prefix=key[:14], key_hash=hash_key(key)))
        s.commit()
    return key


def rotate_admin_key(db: Engine) -> str:
    """Revoke every stored admin key and create a new one."""
    with Session(db) as s:
        for row in s.exec(select(ApiKey).where(ApiKey.role == "admin", ApiKey.revoked_at == None)).all():  # noqa: E711
            row.revoked_at = utcnow()
            s.add(row)
        s.commit()
    return create_admin_key(db)


def ensure_admin_key(db: Engine, settings: Settings) -> str | None:
    """Make sure someone can write: with no ``PILOTMATCH_ADMIN_KEY`` and no stored admin key, create one and
    return it (to be printed once). Returns None when a key already exists."""
    if settings.admin_key is not None:
        return None
    with Session(db) as s:
        exists = s.exec(select(ApiKey).where(ApiKey.role == "admin", ApiKey.revoked_at == None)).first()  # noqa: E711
    return None if exists else create_admin_key(db)


def create_platform_key(db: Engine, platform_id: int, actor: Principal | None = None) -> tuple[ApiKey, str]:
    """Issue a key that may act for one platform only; returns (stored row, the key shown once). The audit trail
    records who issued it and the key's prefix, never the key."""
    key = new_key("platform")
    with Session(db, expire_on_commit=False) as s:
        if s.get(Platform, platform_id) is None:
            raise NotFound(f"Platform {platform_id} does not exist.")
        row = ApiKey(role="platform", platform_id=platform_id, prefix=key[:16], key_hash=hash_key(key))
        s.add(row)
        s.flush()
        record(s, platform_id, "key", "created", actor or SYSTEM, {"prefix": [None, row.prefix]}, row.id)
        s.commit()
        s.refresh(row)
    return row, key


def platform_exists(db: Engine, platform_id: int) -> bool:
    with Session(db) as s:
        return s.get(Platform, platform_id) is not None


def list_platform_keys(db: Engine, platform_id: int) -> list[ApiKey]:
    if not platform_exists(db, platform_id):
        raise NotFound(f"Platform {platform_id} does not exist.")
    with Session(db) as s:
        return list(
            s.exec(select(ApiKey).where(ApiKey.role == "platform", ApiKey.platform_id == platform_id)).all()
        )


def revoke_platform_key(db: Engine, platform_id: int, key_id: int, actor: Principal | None = None) -> None:
    """Revoke at once: the next request with it is refused."""
    with Session(db) as s:
        row = s.get(ApiKey, key_id)
        if row is None or row.role != "platform" or row.platform_id != platform_id:
            raise NotFound(f"Key {key_id} does not exist for platform {platform_id}.")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            s.add(row)
            record(
                s,
                platform_id,
                "key",
                "revoked",
                actor or SYSTEM,
                {"prefix": [row.prefix, row.prefix]},
                key_id,
            )
            s.commit()


def revoke_platform_access(session: Session, platform_id: int) -> int:
    """Revoke every key of a platform and end the web sessions signed in with them, inside the caller's
    transaction (a deleted platform's access must die with it, in the same commit); returns how many keys were
    live."""
    now = utcnow()
    keys = session.exec(select(ApiKey).where(ApiKey.platform_id == platform_id)).all()
    live = [row for row in keys if row.revoked_at is None]
    for row in live:
        row.revoked_at = now
        session.add(row)
    if keys:
        session.exec(delete(WebSignIn).where(WebSignIn.key_digest.in_([k.key_hash for k in keys])))  # type: ignore[attr-defined, call-overload]
    return len(live)


def open_sign_in(db: Engine, key_digest: str, seconds: float) -> str:
    """Record a web sign-in for ``seconds`` and return its token (for the cookie; stored only as a hash).
    Expired sign-ins are cleared on the way."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with Session(db) as s:
        s.exec(delete(WebSignIn).where(WebSignIn.expires_at < now))  # type: ignore[call-overload, arg-type]
        s.add(
            WebSignIn(
                token_hash=hash_key(token),
                key_digest=key_digest,
                created_at=now,
                expires_at=now + timedelta(seconds=seconds),
            )
        )
        s.commit()
    return token


def signed_in_digest(db: Engine, token: str) -> str | None:
    """The key digest of a live sign-in, or None when it was signed out, has expired or never existed."""
    with Session(db) as s:
        row = s.exec(select(WebSignIn).where(WebSignIn.token_hash == hash_key(token))).first()
    if row is None or row.expires_at <= utcnow():
        return None
    return row.key_digest


def close_sign_in(db: Engine, token: str) -> None:
    """Sign out: the sign-in is deleted, so no copy of its cookie opens anything again."""
    with Session(db) as s:
        s.exec(delete(WebSignIn).where(WebSignIn.token_hash == hash_key(token)))  # type: ignore[call-overload, arg-type]
        s.commit()


def app_secret(db: Engine, name: str) -> str:
    """The named secret, created on first use. Two processes starting at once both try to insert; the loser's
    insert fails on the primary key and it reads the winner's value."""
    with Session(db) as s:
        row = s.get(AppSecret, name)
        if row is not None:
            return row.value
        s.add(AppSecret(name=name, value=secrets.token_urlsafe(48)))
        try:
            s.commit()
        except IntegrityError:
            s.rollback()
    with Session(db) as s:
        found = s.get(AppSecret, name)
        assert found is not None
        return found.value


def touch(db: Engine, principal: Principal) -> None:
    """Record a key's last use, at most once a minute (a write per request would be wasteful)."""
    if principal.key_id is None:
        return
    with Session(db) as s:
        row = s.get(ApiKey, principal.key_id)
        if row is not None and (
            row.last_used_at is None or utcnow() - row.last_used_at > timedelta(minutes=1)
        ):
            row.last_used_at = utcnow()
            s.add(row)
            s.commit()
