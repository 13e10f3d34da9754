"""Introductions: double opt-in, then the engagement's stages, each change kept as an event.

An introduction is made when both sides said yes, in either order: the platform answered ``interested`` and
the researcher asked to meet it. ``settle`` is the one place that decides it, run after either side writes; a
conditional UPDATE makes it, so two writers racing make it once. Later moves use the same compare-and-set on
the row (its status and ``updated_at``), so a move decided on a stale read changes nothing.
"""

from __future__ import annotations

from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from matcher.dbtypes import utcnow
from matcher.engagements.capacity import decliner, pause_capacity
from matcher.engagements.events import tell_platform, tell_researcher
from matcher.engagements.fits import researcher_may_ask
from matcher.engagements.models import Introduction, IntroductionEvent, PlatformResponse
from matcher.engagements.schemas import STAGES, IntroductionPatch, IntroductionRequest, IntroductionView
from matcher.errors import Conflict, InvalidInput, NotFound
from matcher.matching.engine import MatchEngine
from matcher.notifications.outbox import ENGAGEMENT_UPDATED, INTRODUCTION_MADE, INTRODUCTION_REQUESTED
from matcher.platforms.models import Platform
from matcher.settings import Settings
from matcher.technologies.models import Technology
from matcher.technologies.schemas import TechnologyRead

#: Stages after the introduction, in order: a move goes forward along them (or to ``withdrawn``).
_ENGAGED = STAGES[1:]
_OPEN_ENGAGEMENT = ("introduced", "agreed", "piloting")


def lock_technology(s: Session, technology_id: int) -> None:
    """Serialise the loop's writes on one technology: every write that reads an answer or an introduction and
    then decides on it (answer, settle, move) takes this first, in its own transaction. A no-op UPDATE is the
    portable lock: a row lock on PostgreSQL, the database's write lock on SQLite; reads after it see every
    write committed before it, so a decline and an introduction racing can never both win."""
    s.execute(
        update(Technology)
        .where(Technology.id == technology_id)
        .values(needs_matching=Technology.needs_matching),  # type: ignore[arg-type]
        execution_options={"synchronize_session": False},
    )


def _pair(s: Session, model: type, technology_id: int, platform_id: int):  # type: ignore[no-untyped-def]
    return s.exec(
        select(model).where(model.technology_id == technology_id, model.platform_id == platform_id)  # type: ignore[attr-defined]
    ).first()


def request_introduction(
    db: Engine, engine: MatchEngine, settings: Settings, technology: Technology, body: IntroductionRequest
) -> tuple[IntroductionView, bool]:
    """The researcher asks to meet one of their matched platforms; returns the introduction as they see it and
    whether it is new. Asking again is harmless (it answers the same introduction) and takes back the
    researcher's own earlier decline."""
    tid, pid = technology.id, body.platform_id
    with Session(db, expire_on_commit=False) as s:
        platform = s.get(Platform, pid)
        existing = _pair(s, Introduction, tid, pid)  # type: ignore[arg-type]
    if platform is None or not platform.active:
        raise NotFound(f"Platform {pid} does not exist.")
    if existing is None and not researcher_may_ask(db, engine, technology, pid):
        raise NotFound(
            f"Platform {pid} is not among this technology's matches: ask for one of the platforms it lists."
        )
    created = False
    if existing is not None:
        _reopen(db, settings, technology, existing.id, body)  # type: ignore[arg-type]
        intro_id = existing.id
    elif (intro_id := _create(db, settings, technology, body)) is not None:
        created = True
    else:
        with Session(db) as s:  # the same request raced this one and won: answer with its introduction
            winner = _pair(s, Introduction, tid, pid)  # type: ignore[arg-type]
        if winner is None:
            raise NotFound("This link does not open any technology: check that it was copied whole.")
        intro_id = winner.id
    settle(db, settings, tid, pid, actor="researcher")  # type: ignore[arg-type]
    return introduction_for_researcher(db, technology, intro_id), created  # type: ignore[arg-type]


def _create(db: Engine, settings: Settings, technology: Technology, body: IntroductionRequest) -> int | None:
    """A new introduction, ``requested``, and the platform told of it; None if another request made it first."""
    with Session(db, expire_on_commit=False) as s:
        lock_technology(s, technology.id)  # type: ignore[arg-type]
        if s.get(Technology, technology.id) is None:  # deleted while this was on its way
            raise NotFound("This link does not open any technology: check that it was copied whole.")
        intro = Introduction(
            technology_id=technology.id,  # type: ignore[arg-type]
            platform_id=body.platform_id,
            status="requested",
            message=body.message,
        )
        s.add(intro)
        try:
            s.flush()
        except IntegrityError:
            s.rollback()
            return None
        s.add(IntroductionEvent(introduction_id=intro.id, actor="researcher", to_status="requested"))  # type: ignore[arg-type]
        tell_platform(s, settings, INTRODUCTION_REQUESTED, intro, technology)
        s.commit()
        return intro.id


def _reopen(
    db: Engine, settings: Settings, technology: Technology, introduction_id: int, body: IntroductionRequest
) -> None:
    """Asking again takes back the researcher's own decline (a platform's decline stays theirs to take back)."""
    with Session(db, expire_on_commit=False) as s:
        intro = s.get(Introduction, introduction_id)
        if intro is None or intro.status != "declined" or intro.declined_by != "researcher":
            return
        reopened: dict = {"status": "requested", "declined_by": None}
        if body.message:
            reopened["message"] = body.message
        if _compare_and_set(s, intro, reopened, "researcher"):
            tell_platform(s, settings, ENGAGEMENT_UPDATED, intro, technology, _last_event(s, intro.id))
        s.commit()


def settle(db: Engine, settings: Settings, technology_id: int, platform_id: int, *, actor: str) -> None:
    """Bring a pair's introduction in step with the platform's answer: ``interested`` makes it (when the
    researcher asked and did not take it back), ``declined`` declines one still requested. ``actor`` is the side
    whose yes came second (it is recorded on the event of the introduction; a decline is always the platform's)."""
    with Session(db, expire_on_commit=False) as s:
        lock_technology(s, technology_id)
        intro = _pair(s, Introduction, technology_id, platform_id)
        response = _pair(s, PlatformResponse, technology_id, platform_id)
        if intro is None or response is None or intro.introduced_at is not None:
            return
        waiting = intro.status == "requested" or (
            intro.status == "declined" and intro.declined_by == "platform"
        )
        if response.decision == "interested" and waiting:
            now = utcnow()
            if _compare_and_set(
                s, intro, {"status": "introduced", "declined_by": None, "introduced_at": now}, actor
            ):
                tech = s.get(Technology, technology_id)
                platform = s.get(Platform, platform_id)
                tell_platform(s, settings, INTRODUCTION_MADE, intro, tech)  # type: ignore[arg-type]
                tell_researcher(s, settings, intro, tech, platform)  # type: ignore[arg-type]
        elif response.decision == "declined" and intro.status == "requested":
            # The platform's own answer declines it: recorded as its event; it needs no news of its own act.
            _compare_and_set(s, intro, {"status": "declined", "declined_by": "platform"}, "platform")
        s.commit()


def move_introduction(
    db: Engine,
    engine: MatchEngine,
    settings: Settings,
    introduction_id: int,
    patch: IntroductionPatch,
    actor: str,
    *,
    technology_id: int | None = None,
    platform_id: int | None = None,
) -> IntroductionView:
    """Move an introduction along its stages for ``actor`` (``researcher``, ``platform`` or ``admin``), scoped to
    the caller's technology or platform (another's is not found). Illegal moves raise ``Conflict`` and change
    nothing; the answer is the whole introduction as the actor sees it."""
    with Session(db, expire_on_commit=False) as s:
        intro = _scoped(s, introduction_id, technology_id, platform_id)
        lock_technology(s, intro.technology_id)
        s.refresh(intro)
        changes = _changes(intro, patch, actor)
        if changes:
            event_fields = {k: v for k, v in changes.items() if k in ("trl_reached", "note")}
            if changes.get("status", intro.status) == "completed":
                event_fields["outcome"] = changes.get("outcome", intro.outcome)
            if not _compare_and_set(s, intro, changes, actor, event_fields):
                raise Conflict("The introduction changed while this was sent: read it again and retry.")
            if changes.get("status") == "declined" and actor != "researcher":
                _decline_response(s, intro, patch)
            if actor == "researcher":  # the platform hears of the researcher's moves, not of its own
                tech = s.get(Technology, intro.technology_id)
                tell_platform(s, settings, ENGAGEMENT_UPDATED, intro, tech, _last_event(s, intro.id))  # type: ignore[arg-type]
            s.commit()
        if changes.get("status") == "declined" and actor != "researcher" and patch.reason == "no_capacity":
            pause_capacity(db, engine, intro.platform_id, decliner(actor, intro.platform_id))
    return introduction_view(db, introduction_id, "researcher" if actor == "researcher" else "platform")


def _changes(intro: Introduction, patch: IntroductionPatch, actor: str) -> dict:
    """The fields a PATCH changes, or ``Conflict`` when the move is not allowed from where the introduction is."""
    current, target = intro.status, patch.status
    side = "researcher" if actor == "researcher" else "platform"
    if target == "declined":
        if intro.introduced_at is not None:
            raise Conflict(
                f"The introduction was made ({current}); either side may withdraw it (status withdrawn), not decline."
            )
        if current == "declined":
            return {}  # declined already; the side that declined first is the one that may take it back
        return {"status": "declined", "declined_by": side}
    if intro.introduced_at is None:
        raise Conflict(
            f"The introduction is {current}: it moves on once both sides said yes (or either declines)."
        )
    if current in ("completed", "withdrawn"):
        raise Conflict(f"The engagement is {current}: nothing more can change.")
    changes: dict = {}
    if target is not None and target != current:
        if target != "withdrawn" and _ENGAGED.index(target) < _ENGAGED.index(current):
            raise Conflict(f"An engagement moves forward only: {current} cannot go back to {target}.")
        changes["status"] = target
    if patch.outcome is not None and (target or current) != "completed":
        raise InvalidInput(
            "outcome goes with status completed: send both, or complete the engagement first.",
            field="outcome",
        )
    for key in ("outcome", "trl_reached", "note"):
        value = getattr(patch, key)
        if key in patch.model_fields_set and value != getattr(intro, key):
            changes[key] = value
    return changes


def _compare_and_set(
    s: Session, intro: Introduction, changes: dict, actor: str, event_fields: dict | None = None
) -> bool:
    """Apply ``changes`` only if the row is as it was read (status and ``updated_at``), and record the event;
    False when another writer changed it first."""
    now = utcnow()
    result = s.execute(
        update(Introduction)
        .where(
            Introduction.id == intro.id,  # type: ignore[arg-type]
            Introduction.status == intro.status,  # type: ignore[arg-type]
            Introduction.updated_at == intro.updated_at,  # type: ignore[arg-type]
        )
        .values(**changes, updated_at=now),
        execution_options={"synchronize_session": False},
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    s.add(
        IntroductionEvent(
            introduction_id=intro.id,  # type: ignore[arg-type]
            actor=actor,
            from_status=intro.status,
            to_status=changes.get("status", intro.status),
            created_at=now,
            **(event_fields or {}),
        )
    )
    s.flush()
    s.refresh(intro)
    return True


def _decline_response(s: Session, intro: Introduction, patch: IntroductionPatch) -> None:
    """A platform that declines an introduction has declined the technology: its answer says so too."""
    response = _pair(s, PlatformResponse, intro.technology_id, intro.platform_id)
    now = utcnow()
    if response is None:
        response = PlatformResponse(
            technology_id=intro.technology_id,
            platform_id=intro.platform_id,
            decision="declined",
            first_responded_at=now,
        )
    response.decision, response.reason, response.responded_at = "declined", patch.reason or "other", now
    s.add(response)


def _last_event(s: Session, introduction_id: int | None) -> IntroductionEvent | None:
    return s.exec(
        select(IntroductionEvent)
        .where(IntroductionEvent.introduction_id == introduction_id)
        .order_by(IntroductionEvent.id.desc())  # type: ignore[union-attr]
    ).first()


def _scoped(
    s: Session, introduction_id: int, technology_id: int | None, platform_id: int | None
) -> Introduction:
    intro = s.get(Introduction, introduction_id)
    if (
        intro is None
        or (technology_id is not None and intro.technology_id != technology_id)
        or (platform_id is not None and intro.platform_id != platform_id)
    ):
        raise NotFound(f"Introduction {introduction_id} does not exist.")
    return intro


def introduction_platform(db: Engine, introduction_id: int) -> tuple[int, str | None] | None:
    """The platform an introduction is with, and that platform's province (who may act on it), or None."""
    with Session(db) as s:
        row = s.exec(
            select(Introduction.platform_id, Platform.province)
            .join(Platform, Platform.id == Introduction.platform_id)  # type: ignore[arg-type]
            .where(Introduction.id == introduction_id)
        ).first()
    return None if row is None else (row[0], row[1])


def introduction_view(
    db: Engine,
    introduction_id: int,
    viewer: str,
    *,
    technology_id: int | None = None,
    platform_id: int | None = None,
) -> IntroductionView:
    """One introduction as ``viewer`` (``researcher`` or ``platform``; the admin sees the platform's view) may see
    it, scoped like ``move_introduction``."""
    with Session(db, expire_on_commit=False) as s:
        intro = _scoped(s, introduction_id, technology_id, platform_id)
        return _view(s, intro, viewer)


def introduction_for_researcher(db: Engine, technology: Technology, introduction_id: int) -> IntroductionView:
    return introduction_view(db, introduction_id, "researcher", technology_id=technology.id)


def introductions_of(db: Engine, technology_id: int) -> list[IntroductionView]:
    """A technology's introductions as its researcher sees them, oldest first."""
    with Session(db, expire_on_commit=False) as s:
        rows = s.exec(
            select(Introduction).where(Introduction.technology_id == technology_id).order_by(Introduction.id)  # type: ignore[arg-type]
        ).all()
        return [_view(s, r, "researcher") for r in rows]


def introductions_by_technology(
    db: Engine, platform_id: int, technology_ids: list[int]
) -> dict[int, Introduction]:
    """A platform's introductions for these technologies (for its inbox and its "technologies that fit")."""
    return platform_rows_by_technology(db, Introduction, platform_id, technology_ids)


def platform_rows_by_technology(db: Engine, model: type, platform_id: int, technology_ids: list[int]) -> dict:
    """One platform's rows of a per-pair table (answers, introductions) for these technologies, by technology."""
    if not technology_ids:
        return {}
    with Session(db, expire_on_commit=False) as s:
        rows = s.exec(
            select(model).where(
                model.platform_id == platform_id,  # type: ignore[attr-defined]
                model.technology_id.in_(technology_ids),  # type: ignore[attr-defined]
            )
        ).all()
    return {r.technology_id: r for r in rows}


def _view(s: Session, intro: Introduction, viewer: str) -> IntroductionView:
    technology = s.get(Technology, intro.technology_id)
    if technology is None:  # deleted between reading the introduction and this
        raise NotFound(f"Introduction {intro.id} does not exist.")
    events = s.exec(
        select(IntroductionEvent)
        .where(IntroductionEvent.introduction_id == intro.id)
        .order_by(IntroductionEvent.id)  # type: ignore[arg-type]
    ).all()
    platform = s.get(Platform, intro.platform_id)
    tech = TechnologyRead.model_validate(technology)
    return IntroductionView.of(intro, platform, tech, list(events), viewer=viewer)  # type: ignore[arg-type]
