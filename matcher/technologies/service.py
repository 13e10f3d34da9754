"""Technology service functions: store a researcher's technology, keep it indexed, match it on demand."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import replace

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from matcher import indexing
from matcher.accounts.principal import Principal
from matcher.accounts.service import hash_key
from matcher.audit.service import SYSTEM
from matcher.dbtypes import utcnow
from matcher.engagements.declines import declined_platforms
from matcher.errors import Conflict, InvalidInput, NotFound
from matcher.indexing import TECHNOLOGY
from matcher.matching.documents import technology_need, technology_text
from matcher.matching.engine import MatchEngine
from matcher.matching.query import MatchQuery
from matcher.matching.results import MatchResult, TechnologyMatches
from matcher.notifications.outbox import notify_for_technology
from matcher.pagination import keyset_page
from matcher.platforms.models import Platform
from matcher.settings import Settings
from matcher.sync import record_changes
from matcher.taxonomy import Taxonomy
from matcher.technologies.models import Technology
from matcher.technologies.permissions import check_technology_write
from matcher.technologies.schemas import TechnologyCreate, TechnologyUpdate


def _checked(tax: Taxonomy, data: dict) -> dict:
    """Check codes against the taxonomy and canonicalise the provinces; one ``InvalidInput`` names every unknown
    code with its field."""
    return tax.check_codes(data)


def _indexed(t: Technology) -> bool:
    return t.status != "closed"


def create_technology(
    db: Engine,
    engine: MatchEngine,
    settings: Settings,
    item: TechnologyCreate,
    *,
    access_token_hash: str | None = None,
    known: Mapping[str, np.ndarray] | None = None,
    actor: Principal = SYSTEM,
) -> Technology:
    """Store a technology and index it (unless closed) so platforms can find it. A province administrator
    (``actor``) creates technologies of its own province only."""
    data = _checked(engine.taxonomy, item.model_dump())
    check_technology_write(actor, None, None, data.get("preferred_provinces") or [])
    row = Technology(**data, needs_matching=item.status != "closed", access_token_hash=access_token_hash)
    _check_external_id_free(db, None, row.external_id)
    (ready,) = indexing.prepare(engine, TECHNOLOGY, [row], known=known)
    with engine.write_lock, Session(db, expire_on_commit=False) as s:
        s.add(row)
        try:
            s.flush()
            record_changes(s, engine.origin, TECHNOLOGY, [row.id])  # type: ignore[list-item]
            s.commit()
        except IntegrityError as exc:
            s.rollback()
            raise Conflict("A technology with the same external_id already exists.") from exc
        s.refresh(row)
        indexing.apply(engine, TECHNOLOGY, [(row.id, row, ready)])  # type: ignore[list-item]
    notify_for_technology(db, engine, settings, row.id)  # type: ignore[arg-type]
    return row


def submit_technology(
    db: Engine, engine: MatchEngine, settings: Settings, item: TechnologyCreate, actor: Principal = SYSTEM
) -> tuple[Technology, str]:
    """Store a technology submitted by a researcher without an account (or an administrator for them); returns
    it and the token of its private link (shown once, stored only as a hash), which is how they come back to its
    matches."""
    token = secrets.token_urlsafe(24)
    row = create_technology(db, engine, settings, item, access_token_hash=hash_key(token), actor=actor)
    return row, token


def technology_by_token(db: Engine, token: str) -> Technology:
    """The technology a private link opens; an unknown token is simply not found."""
    with Session(db, expire_on_commit=False) as s:
        row = s.exec(select(Technology).where(Technology.access_token_hash == hash_key(token))).first()
    if row is None:
        raise NotFound("This link does not open any technology: check that it was copied whole.")
    return row


def technology_provinces(db: Engine, technology_id: int) -> list[str] | None:
    """The provinces a technology is of (its preferred ones; which province administrators govern it), or None
    when it does not exist."""
    with Session(db) as s:
        row = s.exec(select(Technology.preferred_provinces).where(Technology.id == technology_id)).first()
    return None if row is None else list(row or [])


def get_technology(db: Engine, technology_id: int) -> Technology:
    with Session(db, expire_on_commit=False) as s:
        row = s.get(Technology, technology_id)
    if row is None:
        raise NotFound(f"Technology {technology_id} does not exist.")
    return row


def list_technologies(
    db: Engine, *, status: str | None = None, cursor: str | None = None, limit: int = 50
) -> tuple[list[Technology], str | None]:
    stmt = select(Technology)
    if status:
        if status not in ("open", "matched", "closed"):
            raise InvalidInput(
                f"Unknown status {status!r}. Valid: open, matched, closed.",
                field="status",
                allowed=["open", "matched", "closed"],
            )
        stmt = stmt.where(Technology.status == status)
    with Session(db, expire_on_commit=False) as s:
        return keyset_page(s, stmt, Technology, cursor, limit)


def update_technology(
    db: Engine,
    engine: MatchEngine,
    settings: Settings,
    technology_id: int,
    patch: TechnologyUpdate,
    actor: Principal = SYSTEM,
) -> Technology:
    """Apply a partial update (``actor`` may write it: ``permissions.check_technology_write``)."""
    changes = patch.model_dump(exclude_unset=True)
    for required in ("summary", "status"):
        if required in changes and changes[required] is None:
            raise InvalidInput(f"{required} cannot be null.", field=required)
    for listed in ("directions", "service_types", "preferred_provinces"):
        if listed in changes and changes[listed] is None:
            changes[listed] = []
    data = _checked(engine.taxonomy, changes)
    with Session(db, expire_on_commit=False) as s:
        current = s.get(Technology, technology_id)
        if current is None:
            raise NotFound(f"Technology {technology_id} does not exist.")
    after = data.get("preferred_provinces", current.preferred_provinces)
    check_technology_write(actor, technology_id, current.preferred_provinces, after)
    _check_external_id_free(db, technology_id, data.get("external_id"))
    (ready,) = indexing.prepare(engine, TECHNOLOGY, [Technology(**(current.model_dump() | data))])
    with engine.write_lock, Session(db, expire_on_commit=False) as s:
        row = s.get(Technology, technology_id)
        if row is None:
            raise NotFound(f"Technology {technology_id} does not exist.")
        status = data.get("status", row.status)
        # Out of "closed", or back to "open" from anything: its best may be stale.
        reopened = status != row.status and (row.status == "closed" or status == "open")
        text_changed = engine.writes.needs_embedding(ready.doc, "technologies")
        # Its choices move every score (sector fit, TRL, services, region): its best and verdict too.
        facts_changed = any(k in data and data[k] != getattr(row, k) for k in MATCHED_FACTS)
        for key, value in data.items():
            setattr(row, key, value)
        row.updated_at = utcnow()
        row.needs_matching = row.needs_matching or (
            _indexed(row) and (text_changed or reopened or facts_changed) and row.status != "closed"
        )
        s.add(row)
        record_changes(s, engine.origin, TECHNOLOGY, [technology_id])
        try:
            s.commit()
        except IntegrityError as exc:
            s.rollback()
            raise Conflict("Another technology already has this external_id.") from exc
        s.refresh(row)
        indexing.apply(engine, TECHNOLOGY, [(technology_id, row, ready)])
    if row.needs_matching:
        notify_for_technology(db, engine, settings, technology_id)
    return row


#: A technology's fields that its matching reads besides its text.
MATCHED_FACTS = ("directions", "trl", "service_types", "preferred_provinces")


def delete_technology(db: Engine, engine: MatchEngine, technology_id: int, actor: Principal = SYSTEM) -> None:
    with engine.write_lock, Session(db, expire_on_commit=False) as s:
        row = s.get(Technology, technology_id)
        if row is None:
            raise NotFound(f"Technology {technology_id} does not exist.")
        check_technology_write(actor, technology_id, row.preferred_provinces, row.preferred_provinces)
        s.delete(row)
        record_changes(s, engine.origin, TECHNOLOGY, [technology_id])
        s.commit()
        indexing.apply(engine, TECHNOLOGY, [(technology_id, None, None)])


def _check_external_id_free(db: Engine, technology_id: int | None, external_id: str | None) -> None:
    """A duplicate external_id is a conflict, found before anything is embedded (the unique index still guards
    the race between this check and the commit)."""
    if external_id is None:
        return
    with Session(db, expire_on_commit=False) as s:
        stmt = select(Technology.id).where(Technology.external_id == external_id)
        if technology_id is not None:
            stmt = stmt.where(Technology.id != technology_id)
        other = s.exec(stmt).first()
    if other is not None:
        raise Conflict(f"A technology with external_id {external_id!r} already exists; nothing was changed.")


def technology_query(
    engine: MatchEngine,
    technology: Technology,
    limit: int = 10,
    excluded: frozenset[int] = frozenset(),
    include_weak: bool = False,
) -> MatchQuery:
    """The match query of a stored technology: its text and choices, and its indexed vectors when it has them
    (so it is not embedded again). ``excluded`` platforms are left out."""
    vector = engine.technology_vector(technology.id) if technology.id is not None else None
    return MatchQuery(
        technology_text(technology),
        technology_need(technology),
        limit=limit,
        vector=vector,
        excluded_platform_ids=excluded,
        include_weak=include_weak,
    )


def matches_for_technology(
    db: Engine, engine: MatchEngine, technology: Technology, limit: int = 10, include_weak: bool = False
) -> MatchResult:
    """Rank platforms for a stored technology, leaving out those that said the pair does not fit."""
    excluded = declined_platforms(db, technology.id) if technology.id is not None else frozenset()
    return engine.match(technology_query(engine, technology, limit, excluded, include_weak))


def pair_score(engine: MatchEngine, technology: Technology, platform_id: int) -> float | None:
    """The current score of one (technology, platform) pair, exactly as the technology's matches score it, or
    None if the platform is not matchable."""
    query = replace(
        technology_query(engine, technology, 1, include_weak=True), platform_ids=frozenset({platform_id})
    )
    matches = engine.match(query).matches
    return matches[0].score if matches else None


def technologies_for_platform(
    db: Engine, engine: MatchEngine, platform_id: int, limit: int = 10
) -> TechnologyMatches:
    """Open technologies that fit a platform (the reverse direction)."""
    with Session(db) as s:
        if s.get(Platform, platform_id) is None:
            raise NotFound(f"Platform {platform_id} does not exist.")
    return engine.technologies_for(platform_id, limit)


def contacts_of(db: Engine, technology_ids: list[int], viewer: Principal) -> dict[int, str | None]:
    """The contacts researchers left on these technologies, for those ``viewer`` administers (the full admin:
    all; a province administrator: those that prefer its province); nobody else gets any."""
    if not technology_ids or not viewer.is_administrator:
        return {}
    with Session(db) as s:
        rows = s.exec(
            select(Technology.id, Technology.contact, Technology.preferred_provinces).where(
                Technology.id.in_(technology_ids)  # type: ignore[union-attr]
            )
        ).all()
    return {tid: contact for tid, contact, provinces in rows if viewer.governs_any(provinces or ())}  # type: ignore[misc]
