"""Applying to join, following an application on its token, and the administrators' list.

An application is not a platform: it lives in its own table, so nothing that matches, lists or reports platforms
can see it until approval (``review.approve_application``) creates the platform.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence

from sqlalchemy import Engine, update
from sqlmodel import Session, select

from matcher.accounts.models import ApiKey
from matcher.accounts.principal import Principal
from matcher.accounts.service import hash_key
from matcher.applications.keys import derived_key, key_digest
from matcher.applications.models import PlatformApplication
from matcher.applications.schemas import ApplicationOut, ApplicationState, PlatformApplicationCreate
from matcher.dbtypes import utcnow
from matcher.errors import NotFound
from matcher.pagination import keyset_page
from matcher.platforms.models import Platform
from matcher.taxonomy import Taxonomy


def new_token() -> str:
    """An applicant's private token: 32 random bytes, stored only as its SHA-256."""
    return secrets.token_urlsafe(32)


def apply_to_join(
    db: Engine, taxonomy: Taxonomy, item: PlatformApplicationCreate
) -> tuple[PlatformApplication, str]:
    """Store an application (pending) and return it with its token, which is shown once. The codes are checked
    as a new platform's are; the province is stored as its code, so its province's administrator finds it."""
    profile = taxonomy.check_codes(item.profile())
    token = new_token()
    digest, prefix = key_digest(db, token)
    row = PlatformApplication(
        token_hash=hash_key(token),
        name=profile["name"],
        province=profile.get("province"),
        profile=profile,
        applicant_contact=item.applicant_contact,
        key_hash=digest,
        key_prefix=prefix,
    )
    with Session(db, expire_on_commit=False) as s:
        s.add(row)
        s.commit()
    return row, token


def application_by_token(db: Engine, token: str) -> PlatformApplication:
    """The application a token opens; any other string is simply not found."""
    with Session(db, expire_on_commit=False) as s:
        row = s.exec(
            select(PlatformApplication).where(PlatformApplication.token_hash == hash_key(token))
        ).first()
    if row is None:
        raise NotFound("No application has this token.")
    return row


def application_state(db: Engine, token: str, *, reveal_key: bool = True) -> ApplicationState:
    """The application as its applicant sees it. The first read after approval (with ``reveal_key``) carries the
    new platform's key; every later one does not. The web page asks for the key with a button instead
    (``reveal_key=False`` on its plain GET), so a link preview fetching the page cannot use up the one showing."""
    row = application_by_token(db, token)
    key = _reveal(db, row, token) if reveal_key else None
    return ApplicationState(
        id=row.id,  # type: ignore[arg-type]
        status=row.status,  # type: ignore[arg-type]
        name=row.name,
        created_at=row.created_at,
        reviewed_at=row.reviewed_at,
        reason=row.reason if row.status == "rejected" else None,
        revision_of=row.revision_of,
        platform_id=row.platform_id,
        key=key,
        key_shown_at=row.key_shown_at,
    )


def key_waiting(row: PlatformApplication) -> bool:
    """Whether approval issued a key that the applicant has not been shown yet."""
    return row.status == "approved" and row.key_hash is not None and row.key_shown_at is None


def _reveal(db: Engine, row: PlatformApplication, token: str) -> str | None:
    """The key, once: derived from the token, checked against the stored hash and against a live key, and marked
    shown by a conditional UPDATE, so of two reads at the same moment only one carries it."""
    if not key_waiting(row):
        return None
    key = derived_key(db, token)
    if not hmac.compare_digest(hash_key(key), row.key_hash or ""):
        return None
    now = utcnow()
    with Session(db) as s:
        live = s.exec(
            select(ApiKey.id).where(ApiKey.key_hash == row.key_hash, ApiKey.revoked_at == None)  # noqa: E711
        ).first()
        if live is None:  # revoked, or its platform deleted, before the applicant came back
            return None
        result = s.execute(
            update(PlatformApplication)
            .where(PlatformApplication.id == row.id, PlatformApplication.key_shown_at == None)  # type: ignore[arg-type]  # noqa: E711
            .values(key_shown_at=now),
            execution_options={"synchronize_session": False},
        )
        s.commit()
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    row.key_shown_at = now
    return key


def governed_application(db: Engine, application_id: int, actor: Principal) -> PlatformApplication:
    """The application if ``actor`` administers its province; otherwise, as when it does not exist, NotFound."""
    with Session(db, expire_on_commit=False) as s:
        row = s.get(PlatformApplication, application_id)
    if row is None or not actor.governs(row.province):
        raise NotFound(f"Application {application_id} does not exist.")
    return row


def list_applications(
    db: Engine,
    viewer: Principal,
    *,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[ApplicationOut], str | None]:
    """Applications oldest first (a queue is worked from its front), those of the viewer's province only for a
    province key; returns (page, next cursor or None)."""
    stmt = select(PlatformApplication)
    if status is not None:
        stmt = stmt.where(PlatformApplication.status == status)
    if not viewer.is_admin:
        stmt = stmt.where(PlatformApplication.province == viewer.province)
    with Session(db, expire_on_commit=False) as s:
        rows, next_cursor = keyset_page(s, stmt, PlatformApplication, cursor, limit)
    return applications_out(db, rows), next_cursor


def applications_out(db: Engine, rows: Sequence[PlatformApplication]) -> list[ApplicationOut]:
    """The administrators' view of ``rows``; an edit under review shows beside its fields their published values."""
    ids = {r.revision_of for r in rows if r.revision_of is not None and r.status == "pending"}
    with Session(db) as s:
        published = (
            {p.id: p for p in s.exec(select(Platform).where(Platform.id.in_(ids))).all()} if ids else {}
        )  # type: ignore[union-attr]
    out = []
    for row in rows:
        platform = published.get(row.revision_of) if row.revision_of is not None else None
        current = {k: getattr(platform, k, None) for k in row.profile} if platform is not None else None
        out.append(ApplicationOut.model_validate(row).model_copy(update={"current": current}))
    return out
