"""An operator's edit that changes what a published platform is goes back to review.

A platform was reviewed as what its profile said when it was approved (or imported by an administrator). Its
operator keeps the profile up to date without asking anyone, except when an edit would make it a different
platform for matching: the edit is then held as a pending application (``revision_of``) and the published profile
stays as it is until an administrator approves the edit. An edit is held when it

* moves the profile into a key area it was not in (its ``area``, or a direction of another area);
* replaces every service type the platform offered with others;
* rewrites its capabilities into a different text: the new text has words the published one lacks, and its
  cosine similarity to the published one (each the mean of its passages' vectors, the multilingual model) is
  below ``review_capabilities_similarity``. A translation (about 0.75) or a rewording (0.85 and up) passes, as
  does a text cut down from the published words; a profile rewritten for another field (0.2-0.45) does not.

Administrators' edits are never held (they are the reviewers). See docs/decisions/0019.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Engine, update
from sqlmodel import Session, select

from matcher.accounts.principal import Principal
from matcher.accounts.service import hash_key
from matcher.applications.models import PlatformApplication
from matcher.applications.service import new_token
from matcher.audit.service import field_changes, record
from matcher.errors import Conflict, NotFound
from matcher.matching.engine import MatchEngine
from matcher.matching.text import lexical_tokens, normalize_text, split_passages
from matcher.platforms.models import Platform
from matcher.platforms.schemas import PlatformUpdate
from matcher.platforms.service import checked_update, update_platform
from matcher.settings import Settings
from matcher.taxonomy import Taxonomy


@dataclass(frozen=True, slots=True)
class HeldEdit:
    """An edit held for review, and the token to follow it (shown once)."""

    application: PlatformApplication
    token: str


def edit_platform(
    db: Engine,
    engine: MatchEngine,
    settings: Settings,
    platform_id: int,
    patch: PlatformUpdate,
    *,
    actor: Principal,
) -> Platform | HeldEdit:
    """Apply ``patch`` as ``update_platform`` does, unless it is an operator's edit that must be reviewed first:
    then it is validated the same way, held, and the published profile is left unchanged."""
    if not (settings.review_operator_edits and actor.role == "platform"):
        return update_platform(db, engine, settings, platform_id, patch, actor=actor)
    row, data = checked_update(db, engine.taxonomy, platform_id, patch, actor)
    if _touches_reviewed(row, data):
        # While an edit waits for review, another edit of what review reads waits too: refused here, before the
        # comparison's embedding, so repeating it costs the service nothing.
        with Session(db) as s:
            waiting = pending_revision(s, platform_id)
        if waiting is not None:
            raise _waiting(waiting)
    reasons = review_reasons(engine, settings, row, data)
    if not reasons:
        return update_platform(db, engine, settings, platform_id, patch, actor=actor)
    return _hold(db, row, data, patch.model_fields_set, reasons, actor)


#: What the review reads: an edit of these may be held.
REVIEWED_FIELDS = ("area", "directions", "service_types", "capabilities")


def _touches_reviewed(before: Platform, after: dict[str, Any]) -> bool:
    return any(after.get(f) != getattr(before, f) for f in REVIEWED_FIELDS)


def _waiting(waiting: PlatformApplication) -> Conflict:
    return Conflict(
        f"An earlier edit of this platform (application {waiting.id}) is waiting for an administrator's review; "
        "edits of its area, directions, service types or capabilities can be sent once it is decided."
    )


def review_reasons(
    engine: MatchEngine, settings: Settings, before: Platform, after: dict[str, Any]
) -> dict[str, Any]:
    """What in ``after`` (a validated profile) makes it a different platform from ``before``; empty if nothing."""
    reasons: dict[str, Any] = {}
    tax = engine.taxonomy
    new_areas = sorted(_areas(tax, after) - _areas(tax, before.model_dump()))
    if new_areas:
        reasons["new_areas"] = new_areas
    offered, offers = set(before.service_types or ()), set(after.get("service_types") or ())
    if offered and offers and not offered & offers:
        reasons["service_types_replaced"] = True
    threshold = settings.review_capabilities_similarity
    if threshold > 0 and adds_words(before.capabilities, after["capabilities"]):
        similarity = capabilities_similarity(engine, settings, before.capabilities, after["capabilities"])
        if similarity < threshold:
            reasons["capabilities_similarity"] = round(similarity, 3)
    return reasons


def _areas(tax: Taxonomy, profile: dict[str, Any]) -> set[str]:
    directions = (tax.directions.get(code) for code in profile.get("directions") or ())
    return {profile["area"], *(d.area for d in directions if d is not None)}


def adds_words(old: str, new: str) -> bool:
    """Whether ``new`` has a word (as the lexical channel reads words) that ``old`` lacks. A text cut down or
    reordered from the published words describes no new capability, though a short fragment of a long text can
    read as a different text to the model (a sentence of a profile scores about 0.56 against the whole)."""
    return bool(set(lexical_tokens(normalize_text(new))) - set(lexical_tokens(normalize_text(old))))


def capabilities_similarity(engine: MatchEngine, settings: Settings, old: str, new: str) -> float:
    """Cosine similarity of the two texts as wholes: each the mean of its passages' vectors (the multilingual
    model), so every part of a long text counts, not only the start a model reads of one long input."""
    if normalize_text(old) == normalize_text(new):
        return 1.0
    vectors = [_centroid(engine, settings, text) for text in (old, new)]
    return float(vectors[0] @ vectors[1])


def _centroid(engine: MatchEngine, settings: Settings, text: str) -> np.ndarray:
    passages = split_passages(normalize_text(text), settings.passage_chars) or [text]
    mean = np.asarray(engine.vectors.embedder.embed_passages(passages)).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm else mean


def _hold(
    db: Engine,
    row: Platform,
    data: dict[str, Any],
    sent: set[str],
    reasons: dict[str, Any],
    actor: Principal,
) -> HeldEdit:
    """Store the edit as a pending application of its platform, one at a time per platform. The platform's row
    is locked first (a no-op UPDATE), so two edits held at the same moment cannot both be the pending one."""
    platform_id: int = row.id  # type: ignore[assignment]
    token = new_token()
    with Session(db, expire_on_commit=False) as s:
        locked = s.execute(
            update(Platform)
            .where(Platform.id == platform_id)  # type: ignore[arg-type]
            .values(needs_matching=Platform.needs_matching),
            execution_options={"synchronize_session": False},
        )
        if locked.rowcount != 1:  # type: ignore[attr-defined]
            raise NotFound(f"Platform {platform_id} does not exist.")
        waiting = pending_revision(s, platform_id)
        if waiting is not None:
            raise _waiting(waiting)
        # Only what the edit changes is held (a web form sends every field): approval then applies those fields
        # and nothing an administrator may have changed meanwhile.
        changed = field_changes(row.model_dump(), data, sorted(sent))
        application = PlatformApplication(
            token_hash=hash_key(token),
            name=data["name"],
            province=row.province,
            profile={k: data[k] for k in changed},
            published={k: before for k, (before, _) in changed.items()},
            applicant_contact=row.contact or "",
            revision_of=platform_id,
            held_because=reasons,
        )
        s.add(application)
        s.flush()
        changes = changed | {"application": [None, application.id]}
        record(s, platform_id, "platform", "revision_held", actor, changes, platform_id)
        s.commit()
    return HeldEdit(application, token)


def pending_revision(s: Session, platform_id: int) -> PlatformApplication | None:
    """The platform's edit waiting for review, if any."""
    return s.exec(
        select(PlatformApplication).where(
            PlatformApplication.revision_of == platform_id, PlatformApplication.status == "pending"
        )
    ).first()
