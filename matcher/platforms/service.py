"""Platform service functions: validate, store, and keep the match indexes in step.

Every write follows one order: validate everything, embed (the slow part, outside any lock), then, under the
engine's write lock, commit the database transaction and apply the change to the indexes. A failure before the
commit stores nothing; the indexes only ever reflect committed rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from pydantic import ValidationError
from sqlalchemy import Engine, String, cast, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, delete, select

from matcher import indexing
from matcher.accounts.service import Principal, revoke_platform_access
from matcher.applications.models import PlatformApplication
from matcher.audit.service import SYSTEM, field_changes, record
from matcher.dbtypes import utcnow
from matcher.errors import Conflict, InvalidInput, NotFound
from matcher.fields import field_errors
from matcher.indexing import PLATFORM
from matcher.matching.documents import with_id
from matcher.matching.engine import MatchEngine
from matcher.notifications.outbox import notify_for_platform, notify_for_platforms, rematch_technologies_of
from matcher.pagination import keyset_page
from matcher.platforms.freshness import clear_staleness
from matcher.platforms.models import Platform
from matcher.platforms.permissions import check_platform_delete, check_platform_write
from matcher.platforms.schemas import PlatformCreate, PlatformFilters, PlatformUpdate
from matcher.settings import Settings
from matcher.sync import record_changes
from matcher.taxonomy import Taxonomy

Progress = Callable[[int, int], None]

#: A platform row's own bookkeeping, which a profile write (PATCH or import) never copies from the profile.
_STATE = frozenset(
    {
        "id",
        "created_at",
        "updated_at",
        "needs_matching",
        "last_email_at",
        "capacity_paused_at",
        "confirmed_at",
        "edited_at",
        "stale_reminded_at",
        "stale_since",
    }
)


def _checked(tax: Taxonomy, data: dict, prefix: str = "") -> dict:
    """Check codes against the taxonomy and canonicalise the province; one ``InvalidInput`` names every unknown
    code with its field."""
    return tax.check_codes(data, prefix)


def create_platforms(
    db: Engine,
    engine: MatchEngine,
    settings: Settings,
    items: Sequence[PlatformCreate],
    *,
    upsert: bool = False,
    progress: Progress | None = None,
    field_prefix: str = "",
    known: Mapping[str, np.ndarray] | None = None,
    match_now: bool = True,
    actor: Principal = SYSTEM,
    also: Callable[[Session, list[Platform]], None] | None = None,
) -> list[Platform]:
    """Store platforms in one transaction and index the active ones.

    With ``upsert`` a platform whose ``external_id`` already exists is updated instead (imports can be re-run);
    without it a duplicate ``external_id`` raises ``Conflict`` and nothing is stored. ``known`` holds vectors of
    texts embedded before (``indexing.vectors_by_content``). Without ``match_now`` (bulk writes) the new
    platforms stay flagged ``needs_matching`` and the delivery worker matches them and notifies in batches, so the
    request answers once the rows are stored and indexed. ``also`` writes more in the same transaction, with the
    stored rows' ids known (an approved application and its key): it commits with the platforms or, if it raises,
    nothing does.
    """
    tax = engine.taxonomy
    seen: dict[str, int] = {}
    rows: list[Platform] = []
    for i, item in enumerate(items):
        prefix = f"{field_prefix}[{i}]." if field_prefix or len(items) > 1 else ""
        data = _checked(tax, item.model_dump(), prefix)
        check_platform_write(actor, None, data, item.model_fields_set)
        ext = data.get("external_id")
        if ext is not None:
            if ext in seen:
                raise InvalidInput(
                    f"external_id {ext!r} appears twice in this request (items {seen[ext]} and {i}).",
                    field=f"{prefix}external_id",
                )
            seen[ext] = i
        rows.append(Platform(**data))
    # Cheap checks before the slow part: a colliding external_id is refused before anything is embedded.
    with Session(db) as s:
        known = _existing_by_external_id(s, list(seen))
    if known and not upsert:
        raise _duplicates(known)
    # An upserted row keeps its id, so its text is compared with what is indexed and embedded only if it changed.
    previews = [
        Platform(**(r.model_dump() | {"id": known[r.external_id].id})) if r.external_id in known else r
        for r in rows
    ]
    prepared = indexing.prepare(engine, PLATFORM, previews, progress, known)
    with engine.write_lock, Session(db, expire_on_commit=False) as s:
        existing = _existing_by_external_id(s, list(seen))
        if existing and not upsert:
            raise _duplicates(existing)
        stored, rematched, before = _merged(engine, rows, prepared, existing)
        s.add_all(stored)
        try:
            s.flush()
            _record_writes(s, actor, stored, before)
            if also is not None:
                also(s, stored)
            rematch_technologies_of(s, rematched)
            record_changes(s, engine.origin, PLATFORM, [r.id for r in stored])  # type: ignore[misc]
            s.commit()
        except IntegrityError as exc:
            s.rollback()
            raise Conflict(
                "A platform with the same external_id already exists; nothing was stored."
            ) from exc
        # ids came back from the INSERTs and attributes stay loaded (expire_on_commit=False): no refresh needed.
        indexing.apply(
            engine,
            PLATFORM,
            [(r.id, r, p) for r, p in zip(stored, prepared, strict=True)],  # type: ignore[misc]
        )
    if match_now:
        notify_for_platforms(db, engine, settings, [r.id for r in stored if r.needs_matching])  # type: ignore[misc]
    return stored


def _record_writes(s: Session, actor: Principal, stored: list[Platform], before: dict[int, dict]) -> None:
    """One audit event per platform written: created with its profile, or updated with the fields an upsert
    changed (an upsert that changed nothing leaves no event)."""
    for row in stored:
        old = before.get(row.id)  # type: ignore[arg-type]
        profile = row.model_dump(exclude=_STATE)
        if old is None:
            record(s, row.id, "platform", "created", actor, field_changes({}, profile, profile), row.id)  # type: ignore[arg-type]
        elif changes := field_changes(old, profile, profile):
            row.edited_at = row.updated_at
            clear_staleness(row)
            record(s, row.id, "platform", "updated", actor, changes, row.id)  # type: ignore[arg-type]


def _merged(
    engine: MatchEngine,
    rows: list[Platform],
    prepared: list[indexing.Prepared],
    existing: dict[str, Platform],
) -> tuple[list[Platform], list[int], dict[int, dict]]:
    """The rows to store: new ones as they are, and for an upsert the existing row updated in place (its id
    kept). Also the ids of updated platforms whose technologies must be matched again (text changed, or
    deactivated), and each updated row's profile as it was (for the audit trail)."""
    stored: list[Platform] = []
    rematched: list[int] = []
    before: dict[int, dict] = {}
    now = utcnow()
    for row, ready in zip(rows, prepared, strict=True):
        old = existing.get(row.external_id) if row.external_id else None
        if old is None:
            row.needs_matching = row.active
            row.edited_at = now
            stored.append(row)
            continue
        before[old.id] = old.model_dump(exclude=_STATE)  # type: ignore[index]
        changed = engine.writes.needs_embedding(with_id(ready.doc, old.id), "platforms")  # type: ignore[arg-type]
        for key, value in row.model_dump(exclude=_STATE).items():
            setattr(old, key, value)
        old.updated_at = now
        old.needs_matching = old.needs_matching or (changed and old.active)
        if changed or not old.active:
            rematched.append(old.id)  # type: ignore[arg-type]
        stored.append(old)
    return stored, rematched, before


def _existing_by_external_id(session: Session, external_ids: list[str]) -> dict[str, Platform]:
    if not external_ids:
        return {}
    found = session.exec(select(Platform).where(Platform.external_id.in_(external_ids))).all()  # type: ignore[union-attr]
    return {p.external_id: p for p in found if p.external_id}


def _duplicates(existing: dict[str, Platform]) -> Conflict:
    return Conflict(
        "A platform with external_id "
        + ", ".join(repr(e) for e in sorted(existing))
        + " already exists; nothing was stored. PATCH the existing platform, or re-run `pilotmatch import platforms`, which"
        + " updates platforms by external_id."
    )


def get_platform(db: Engine, platform_id: int) -> Platform:
    with Session(db) as s:
        row = s.get(Platform, platform_id)
    if row is None:
        raise NotFound(f"Platform {platform_id} does not exist.")
    return row


def list_platforms(
    db: Engine, taxonomy: Taxonomy, filters: PlatformFilters, *, cursor: str | None = None, limit: int = 50
) -> tuple[list[Platform], str | None]:
    """Platforms by ascending id after ``cursor``; returns (page, next cursor or None)."""
    tax = taxonomy
    stmt = select(Platform)
    if filters.area:
        stmt = stmt.where(Platform.area == tax.check_area(filters.area))
    if filters.tier:
        stmt = stmt.where(Platform.tier == tax.check_tier(filters.tier))
    if filters.province:
        stmt = stmt.where(Platform.province == tax.normalize_province(filters.province))
    if filters.direction:
        code = tax.check_directions([filters.direction], "direction")[0]
        # JSON lists are stored as text on SQLite and json on PostgreSQL; both render codes as "code".
        stmt = stmt.where(cast(Platform.directions, String).like(f'%"{code}"%'))
    if filters.service_type:
        code = tax.check_service_types([filters.service_type], "service_type")[0]
        stmt = stmt.where(cast(Platform.service_types, String).like(f'%"{code}"%'))
    if filters.active is not None:
        stmt = stmt.where(Platform.active == filters.active)
    if filters.stale is not None:
        since = Platform.stale_since
        stmt = stmt.where(since != None if filters.stale else since == None)  # type: ignore[arg-type]  # noqa: E711
    if filters.q:
        # The words are matched literally: % and _ in them are not wildcards.
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", filters.q.lower()) + "%"
        stmt = stmt.where(
            or_(
                func.lower(Platform.name).like(pattern, escape="\\"),
                func.lower(Platform.name_en).like(pattern, escape="\\"),
            )
        )
    with Session(db, expire_on_commit=False) as s:
        return keyset_page(s, stmt, Platform, cursor, limit)


#: A platform's fields that ranking reads besides its text.
RANKED_FACTS = ("tier", "area", "directions", "service_types", "province", "trl_min", "trl_max", "capacity")


def checked_update(
    db: Engine, taxonomy: Taxonomy, platform_id: int, patch: PlatformUpdate, actor: Principal
) -> tuple[Platform, dict]:
    """The platform as stored and its profile once ``patch`` is applied, validated as a new profile is (the TRL
    range, codes against the taxonomy) and allowed to ``actor``; raises what the write would. Stores nothing."""
    changes = patch.model_dump(exclude_unset=True)
    for required in ("name", "tier", "area", "capabilities", "active"):
        if required in changes and changes[required] is None:
            raise InvalidInput(f"{required} cannot be null.", field=required)
    with Session(db, expire_on_commit=False) as s:
        row = s.get(Platform, platform_id)
        if row is None:
            raise NotFound(f"Platform {platform_id} does not exist.")
    before = row.model_dump(exclude=_STATE)
    merged = before | changes
    # Re-validate the merged profile so cross-field rules (TRL range) hold after the patch; the TRL rule first,
    # so its error names the field a form shows it beside.
    low, high = merged.get("trl_min"), merged.get("trl_max")
    if low is not None and high is not None and low > high:
        raise InvalidInput(f"trl_min ({low}) must not be greater than trl_max ({high}).", field="trl_min")
    try:
        PlatformCreate.model_validate(merged)
    except ValidationError as exc:
        raise InvalidInput.of(field_errors(exc.errors())) from exc
    data = _checked(taxonomy, merged)
    check_platform_write(actor, before, data, patch.model_fields_set)
    _check_external_id_free(db, platform_id, data.get("external_id"))
    return row, data


def update_platform(
    db: Engine,
    engine: MatchEngine,
    settings: Settings,
    platform_id: int,
    patch: PlatformUpdate,
    *,
    actor: Principal = SYSTEM,
    also: Callable[[Session], None] | None = None,
) -> Platform:
    """Apply a partial update; the text is re-embedded only if it changed. ``actor`` must be allowed the change
    (``permissions.check_platform_write``), and is recorded with each changed field in the audit trail. ``also``
    writes more in the same transaction (an approved revision): it commits with the update or, if it raises,
    nothing does."""
    row, data = checked_update(db, engine.taxonomy, platform_id, patch, actor)
    # A no_capacity decline pauses the capacity factor until the profile states free slots again.
    sent_capacity = patch.capacity if "capacity" in patch.model_fields_set else None
    paused = None if (sent_capacity or 0) > 0 else row.capacity_paused_at
    (ready,) = indexing.prepare(
        engine, PLATFORM, [Platform(id=platform_id, capacity_paused_at=paused, **data)]
    )
    with engine.write_lock, Session(db, expire_on_commit=False) as s:
        row = s.get(Platform, platform_id)
        if row is None:
            raise NotFound(f"Platform {platform_id} does not exist.")
        reactivated = data["active"] and not row.active
        text_changed = data["active"] and engine.writes.needs_embedding(ready.doc, "platforms")
        # Facts the ranking reads move its scores both ways: technologies it was best for are worked out
        # again, and it is matched anew (a platform's matching raises technologies it now fits better).
        facts_changed = paused != row.capacity_paused_at or any(
            data.get(k, getattr(row, k)) != getattr(row, k) for k in RANKED_FACTS
        )
        edits = field_changes(row.model_dump(), data, data)
        for key, value in data.items():
            setattr(row, key, value)
        row.capacity_paused_at = paused
        row.updated_at = utcnow()
        if edits:
            row.edited_at = row.updated_at
            clear_staleness(row)
            record(s, platform_id, "platform", "updated", actor, edits, platform_id)
        if "province" in edits:  # its edit waiting for review goes to the new province's administrators
            s.execute(
                update(PlatformApplication)
                .where(
                    PlatformApplication.revision_of == platform_id, PlatformApplication.status == "pending"
                )  # type: ignore[arg-type]
                .values(province=row.province)
            )
        row.needs_matching = row.needs_matching or (
            row.active and (text_changed or reactivated or facts_changed)
        )
        s.add(row)
        if text_changed or facts_changed or not row.active:
            rematch_technologies_of(s, [platform_id])
        record_changes(s, engine.origin, PLATFORM, [platform_id])
        if also is not None:
            also(s)
        try:
            s.commit()
        except IntegrityError as exc:
            s.rollback()
            raise Conflict(f"Another platform already has external_id {data.get('external_id')!r}.") from exc
        s.refresh(row)
        indexing.apply(engine, PLATFORM, [(platform_id, row, ready)])
    if row.needs_matching:
        notify_for_platform(db, engine, settings, platform_id)
    return row


def _check_external_id_free(db: Engine, platform_id: int, external_id: str | None) -> None:
    """A PATCH to another platform's external_id is a conflict, found before anything is embedded."""
    if external_id is None:
        return
    with Session(db, expire_on_commit=False) as s:
        other = s.exec(
            select(Platform.id).where(Platform.external_id == external_id, Platform.id != platform_id)
        ).first()
    if other is not None:
        raise Conflict(f"Another platform already has external_id {external_id!r}; nothing was changed.")


def delete_platform(db: Engine, engine: MatchEngine, platform_id: int, actor: Principal = SYSTEM) -> None:
    """Delete a platform and, in the same transaction, revoke everything that grants access through it: its
    API keys and the web sessions signed in with them (and drop its edits waiting for review). Its notifications, endpoints and deliveries go with it
    (foreign keys cascade); its id is never handed out again."""
    with engine.write_lock, Session(db, expire_on_commit=False) as s:
        row = s.get(Platform, platform_id)
        if row is None:
            raise NotFound(f"Platform {platform_id} does not exist.")
        profile = row.model_dump(exclude=_STATE)
        check_platform_delete(actor, profile)
        s.delete(row)
        record(s, platform_id, "platform", "deleted", actor, field_changes(profile, {}, profile), platform_id)
        revoke_platform_access(s, platform_id)
        # An edit of it waiting for review has nothing left to apply to; decided ones stay as the record.
        s.exec(
            delete(PlatformApplication).where(
                PlatformApplication.revision_of == platform_id,  # type: ignore[arg-type]
                PlatformApplication.status == "pending",  # type: ignore[arg-type]
            )
        )  # type: ignore[call-overload]
        rematch_technologies_of(s, [platform_id])
        record_changes(s, engine.origin, PLATFORM, [platform_id])
        s.commit()
        indexing.apply(engine, PLATFORM, [(platform_id, None, None)])
