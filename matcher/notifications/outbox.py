"""The outbox: which platforms hear of which technologies, stored with their deliveries in one transaction.

A platform hears of a technology when the technology ranks among the platform's best ``notify_top_k``
technologies with a calibrated score of at least ``notify_min_score`` (per platform, defaults in settings) — the
same rule whichever side changed. Writes mark the changed row ``needs_matching``; ``match_pending`` then runs the
match and, in one transaction, stores the notifications, one delivery per active webhook endpoint, and clears
the flag. A crash between the write and that transaction loses nothing: the flag is still set and the worker
picks the row up again. A unique constraint keeps it to one notification per (platform, technology), ever.

Matching goes through the match engine alone (the forward match for a technology, the reverse direction for a
platform); these functions take the database, the engine and the settings they read, nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from matcher.engagements.declines import declined_platforms
from matcher.matching.documents import technology_need, technology_text
from matcher.matching.engine import MatchEngine
from matcher.matching.query import MatchQuery
from matcher.matching.results import TechnologyMatch
from matcher.notifications.email import email_address
from matcher.notifications.models import Notification, WebhookDelivery, WebhookEndpoint
from matcher.observability import NOTIFICATIONS, QUEUE_DEPTH
from matcher.platforms.models import Platform
from matcher.settings import Settings
from matcher.technologies.models import Technology

log = logging.getLogger("pilotmatch.notifications")

MATCH_CREATED = "match.created"
ENDPOINT_DISABLED = "endpoint.disabled"
INTRODUCTION_REQUESTED = "introduction.requested"
INTRODUCTION_MADE = "introduction.made"
ENGAGEMENT_UPDATED = "engagement.updated"
#: Inbox and e-mail only: a reminder of a notified technology the platform has not answered.
RESPONSE_REMINDER = "response.reminder"
#: A programme's assignment gave the platform this technology (``POST /v1/assignments/{id}/notify``).
ASSIGNMENT_MADE = "assignment.made"

#: The platform's profile went ``PILOTMATCH_PROFILE_STALE_DAYS`` without an edit or a confirmation: confirm it.
PROFILE_CONFIRM_REQUESTED = "profile.confirm_requested"
#: How many of a technology's best platforms are considered for notification.
CANDIDATE_PLATFORMS = 50
#: How many of a new or changed platform's best technologies may have it as their new best match.
BEST_MATCH_REACH = 100


@dataclass(frozen=True, slots=True)
class BestMatch:
    """A technology's best platform; ``directions`` is None when only a platform's side was matched (raise the
    score if higher, leave the directions)."""

    technology_id: int
    score: float | None
    platform_id: int | None
    directions: list[str] | None


def _limits(settings: Settings, p: Platform) -> tuple[int, float]:
    top_k = p.notify_top_k if p.notify_top_k is not None else settings.notify_top_k
    min_score = p.notify_min_score if p.notify_min_score is not None else settings.notify_min_score
    return top_k, min_score


def technology_body(t: Technology) -> dict:
    """A technology as events carry it to platforms: never its researcher's contact (that travels only in
    ``introduction.made``, once both sides agreed)."""
    return {
        "id": t.id,
        "title": t.title,
        "summary": t.summary,
        "trl": t.trl,
        "directions": t.directions,
        "service_types": t.service_types,
        "preferred_provinces": t.preferred_provinces,
        "status": t.status,
    }


def _event(platform_id: int, tech: Technology, score: float, explanation: dict) -> dict:
    """The webhook body, fixed at creation so every retry sends the same bytes' meaning."""
    return {
        "type": MATCH_CREATED,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": {
            "platform_id": platform_id,
            "technology": technology_body(tech),
            "score": score,
            "explanation": explanation,
        },
    }


def _note(platform_id: int, tech: Technology, score: float, explanation: dict) -> dict:
    """The fields of one ``match.created`` notification."""
    return {
        "platform_id": platform_id,
        "technology_id": tech.id,
        "type": MATCH_CREATED,
        "score": score,
        "payload": _event(platform_id, tech, score, explanation),
    }


def store_notifications(s: Session, notes: list[dict], *, email: bool = False, webhooks: bool = True) -> int:
    """Add notifications not seen before (and, with ``webhooks``, one delivery per active endpoint) to the
    session; returns how many are new. ``email`` queues each for the platform's digest when its contact is an
    address. ``engagement.updated`` may repeat for a pair; every other type is stored once per pair. A notification
    about the platform itself (no technology) is never held back here: its sender keeps it to once per occasion
    (the unique index treats a null technology as distinct too, on SQLite and PostgreSQL alike)."""
    added = 0
    for fields in notes:
        note = Notification(**fields)
        if email:
            platform = s.get(Platform, note.platform_id)
            if platform is not None and email_address(platform.contact) is not None:
                note.email_status = "pending"
        exists = (
            note.type != ENGAGEMENT_UPDATED
            and note.technology_id is not None
            and s.exec(
                select(Notification.id).where(
                    Notification.platform_id == note.platform_id,
                    Notification.technology_id == note.technology_id,
                    Notification.type == note.type,
                )
            ).first()
        )
        if exists:
            continue
        s.add(note)
        s.flush()
        if not webhooks:
            added += 1
            continue
        endpoints = s.exec(
            select(WebhookEndpoint).where(
                WebhookEndpoint.platform_id == note.platform_id,
                WebhookEndpoint.active == True,  # noqa: E712
            )
        ).all()
        for ep in endpoints:
            s.add(
                WebhookDelivery(notification_id=note.id, endpoint_id=ep.id, msg_id=f"msg_{note.id}_{ep.id}")
            )
        added += 1
    return added


def _fits(
    engine: MatchEngine, settings: Settings, platform: Platform, technology_id: int
) -> tuple[float, dict] | None:
    """(score, explanation) if the technology is among the platform's best ``notify_top_k`` and scores enough."""
    top_k, min_score = _limits(settings, platform)
    if not engine.contains("platforms", platform.id):  # type: ignore[arg-type]
        return None
    for m in engine.technologies_for(platform.id, top_k).matches:  # type: ignore[arg-type]
        if m.technology_id == technology_id:
            return (m.score, m.explanation) if m.score >= min_score else None
    return None


def notify_for_technology(db: Engine, engine: MatchEngine, settings: Settings, technology_id: int) -> int:
    """Match one technology (flagged ``needs_matching``), record its notifications and its best match; returns
    how many notifications were created."""
    with Session(db, expire_on_commit=False) as s:
        tech = s.get(Technology, technology_id)
        if tech is None or not tech.needs_matching:
            return 0
    if tech.status != "closed" and not engine.contains("technologies", technology_id):
        # Committed but not in this process's index yet: the writer is between its commit and its index update,
        # or this process's follower has not read the change log that far. Claiming the row now would clear the
        # flag with no match run; leave it for the next pass, which will see the vector.
        log.debug("event=matching_deferred technology=%s", technology_id)
        return 0
    vec = engine.technology_vector(technology_id)
    notes: list[dict] = []
    best = BestMatch(technology_id, None, None, list(tech.directions or ()))
    if vec is not None and tech.status != "closed":
        # Every candidate, weak ones included: a platform may ask to hear of weaker fits (its own notify_min_score).
        # Platforms that declined it as not a fit are out, as they are of its matches (and so of its verdict).
        query = MatchQuery(
            technology_text(tech),
            technology_need(tech),
            limit=CANDIDATE_PLATFORMS,
            vector=vec,
            excluded_platform_ids=declined_platforms(db, technology_id),
            include_weak=True,
        )
        result = engine.match(query)
        matches = result.matches
        best = BestMatch(
            technology_id,
            result.best_score,
            matches[0].platform_id if matches else None,
            list(tech.directions or ()) or [d.code for d in result.inferred_directions[:1]],
        )
        ids = [m.platform_id for m in matches]
        with Session(db, expire_on_commit=False) as s:
            platforms = {p.id: p for p in s.exec(select(Platform).where(Platform.id.in_(ids))).all()}  # type: ignore[union-attr]
        for m in matches:
            p = platforms.get(m.platform_id)
            if p is None or m.score < _limits(settings, p)[1]:
                continue
            fit = _fits(engine, settings, p, technology_id)
            if fit:
                notes.append(_note(p.id, tech, *fit))  # type: ignore[arg-type]
    return _commit_outbox(db, settings, notes, Technology, [technology_id], best=[best])


def notify_for_platform(db: Engine, engine: MatchEngine, settings: Settings, platform_id: int) -> int:
    """Match one platform (flagged ``needs_matching``) against open technologies and record notifications."""
    return notify_for_platforms(db, engine, settings, [platform_id])


def notify_for_platforms(db: Engine, engine: MatchEngine, settings: Settings, platform_ids: list[int]) -> int:
    """The same for many platforms (a bulk import) in one transaction, so imports do not pay per row."""
    with Session(db, expire_on_commit=False) as s:
        platforms = s.exec(
            select(Platform).where(Platform.id.in_(platform_ids), Platform.needs_matching == True)  # type: ignore[union-attr]  # noqa: E712
        ).all()
    # As for technologies: an active platform this process has not indexed yet is left flagged for a later pass.
    platforms = [p for p in platforms if not p.active or engine.contains("platforms", p.id)]  # type: ignore[arg-type]
    notes: list[dict] = []
    better: list[BestMatch] = []
    for platform in platforms:
        reach = _reach(engine, settings, platform)
        notes += _platform_notes(db, settings, platform, reach)
        # Technologies in its reach may now have this platform as their best match; the outbox raises their stored
        # best score only where this one is higher.
        better += [BestMatch(m.technology_id, m.score, platform.id, None) for m in reach]  # type: ignore[arg-type]
    return _commit_outbox(db, settings, notes, Platform, [p.id for p in platforms], best=better)  # type: ignore[misc]


def _reach(engine: MatchEngine, settings: Settings, platform: Platform) -> list[TechnologyMatch]:
    """The platform's best technologies: enough for its notifications and for best-match bookkeeping."""
    indexed = engine.contains("platforms", platform.id)  # type: ignore[arg-type]
    if not platform.active or not indexed or not engine.count("technologies"):
        return []
    top_k, _ = _limits(settings, platform)
    return engine.technologies_for(platform.id, max(top_k, BEST_MATCH_REACH)).matches  # type: ignore[arg-type]


def _platform_notes(
    db: Engine, settings: Settings, platform: Platform, reach: list[TechnologyMatch]
) -> list[dict]:
    top_k, min_score = _limits(settings, platform)
    matches = [m for m in reach[:top_k] if m.score >= min_score]
    if not matches:
        return []
    with Session(db, expire_on_commit=False) as s:
        techs = {
            t.id: t
            for t in s.exec(
                select(Technology).where(Technology.id.in_([m.technology_id for m in matches]))
            ).all()  # type: ignore[union-attr]
        }
    notes = []
    for m in matches:
        tech = techs.get(m.technology_id)
        if tech is None or tech.status == "closed":
            continue
        notes.append(_note(platform.id, tech, m.score, m.explanation))  # type: ignore[arg-type]
    return notes


def _commit_outbox(
    db: Engine,
    settings: Settings,
    notes: list[dict],
    model: type,
    row_ids: list[int],
    *,
    best: Sequence[BestMatch] = (),
) -> int:
    """In one transaction: claim the rows by clearing their ``needs_matching`` flag, store the notifications
    of the rows this call claimed (and their deliveries), and record best matches.

    The flag is the claim: when an API thread and a worker match the same row at once, the second UPDATE waits
    for the first transaction and then finds the flag cleared, so it stores nothing.
    """
    if not row_ids:
        return 0
    key = "platform_id" if model is Platform else "technology_id"
    for attempt in range(3):
        with Session(db, expire_on_commit=False) as s:
            try:
                claimed = set(
                    s.execute(
                        update(model)
                        .where(model.id.in_(row_ids), model.needs_matching == True)  # type: ignore[attr-defined]  # noqa: E712
                        .values(needs_matching=False)
                        .returning(model.id)  # type: ignore[attr-defined]
                    ).scalars()
                )
                mine = [n for n in notes if n[key] in claimed]
                added = store_notifications(s, mine, email=settings.smtp_url is not None)
                _record_best(s, [b for b in best if model is Platform or b.technology_id in claimed])
                s.commit()
            except IntegrityError:
                s.rollback()  # the other side of the pair stored it first; look again
                if attempt == 2:
                    raise
                continue
            if added:
                NOTIFICATIONS.inc(added)
                log.info("event=notifications_created count=%d source=%s", added, model.__name__)
            return added
    return 0


def _record_best(s: Session, best: Sequence[BestMatch]) -> None:
    """A technology's own matching sets its best match outright; a platform's matching only raises it (so two
    writers racing can only leave the higher, which is the truth for the rows both saw).

    Raises are folded to the highest per technology first: a bulk import of 1,000 platforms offers each open
    technology up to 1,000 candidates, and one UPDATE each would take most of the import's time."""
    raises: dict[int, BestMatch] = {}
    quiet = {"synchronize_session": False}  # plain UPDATEs: no loaded objects to keep in step
    for b in best:
        stmt = update(Technology).where(Technology.id == b.technology_id)  # type: ignore[arg-type]
        if b.directions is not None:
            s.execute(
                stmt.values(
                    best_score=b.score, best_platform_id=b.platform_id, matched_directions=b.directions
                ),
                execution_options=quiet,
            )
        elif b.technology_id not in raises or b.score > raises[b.technology_id].score:
            raises[b.technology_id] = b
    for b in raises.values():
        s.execute(
            update(Technology)
            .where(
                Technology.id == b.technology_id,  # type: ignore[arg-type]
                or_(Technology.best_score == None, Technology.best_score < b.score),  # type: ignore[operator]  # noqa: E711
            )
            .values(best_score=b.score, best_platform_id=b.platform_id),
            execution_options=quiet,
        )


def rematch_technologies_of(s: Session, platform_ids: Sequence[int]) -> None:
    """Flag the technologies whose best match is one of these platforms (changed, hidden or deleted), so the
    worker recomputes their best match and the coverage report's unmet demand stays true. Closed ones are
    matched again when they are reopened; others (matched, say) now, so a reopened one reads true at once."""
    if platform_ids:
        s.execute(
            update(Technology)
            .where(Technology.best_platform_id.in_(list(platform_ids)), Technology.status != "closed")  # type: ignore[union-attr]
            .values(needs_matching=True)
        )


def queue_depth(db: Engine) -> dict[str, int]:
    """Work waiting (for /readyz and the queue-depth gauge): pending webhook deliveries, unmatched rows."""
    with Session(db) as s:
        pending = s.exec(
            select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.status == "pending")
        ).one()
        unmatched = sum(
            s.exec(select(func.count()).select_from(model).where(model.needs_matching == True)).one()  # type: ignore[attr-defined]  # noqa: E712
            for model in (Platform, Technology)
        )
    QUEUE_DEPTH.labels("deliveries").set(pending)
    QUEUE_DEPTH.labels("unmatched").set(unmatched)
    return {"pending_deliveries": int(pending), "unmatched_rows": int(unmatched)}


def match_pending(db: Engine, engine: MatchEngine, settings: Settings, limit: int = 100) -> int:
    """Record notifications for every row still flagged ``needs_matching`` (after writes, or after a crash)."""
    with Session(db) as s:
        techs = s.exec(select(Technology.id).where(Technology.needs_matching == True).limit(limit)).all()  # noqa: E712
        plats = s.exec(select(Platform.id).where(Platform.needs_matching == True).limit(limit)).all()  # noqa: E712
    created = 0
    for tid in techs:
        created += notify_for_technology(db, engine, settings, tid)  # type: ignore[arg-type]
    if plats:  # one transaction for the batch: a bulk import's platforms arrive here together
        created += notify_for_platforms(db, engine, settings, list(plats))  # type: ignore[arg-type]
    return created
