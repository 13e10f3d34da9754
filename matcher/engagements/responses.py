"""Platforms' answers to the technologies that fit them, and what an answer teaches the ranking.

- ``declined`` for ``no_capacity`` pauses the platform's capacity factor (zero) until its operator raises
  ``capacity`` again;
- ``declined`` for ``wrong_sector`` or ``wrong_process`` judges the pair: the technology's matches leave that
  platform out from then on (``matcher.engagements.declines``).
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from matcher.dbtypes import utcnow
from matcher.engagements.capacity import decliner, pause_capacity
from matcher.engagements.declines import NOT_A_FIT
from matcher.engagements.fits import platform_may_answer
from matcher.engagements.introductions import (
    introductions_by_technology,
    lock_technology,
    platform_rows_by_technology,
    settle,
)
from matcher.engagements.models import Introduction, PlatformResponse
from matcher.engagements.schemas import PairStates, ResponseIn
from matcher.errors import Conflict, NotFound
from matcher.matching.engine import MatchEngine
from matcher.platforms.models import Platform
from matcher.settings import Settings
from matcher.technologies.models import Technology


def respond(
    db: Engine,
    engine: MatchEngine,
    settings: Settings,
    platform_id: int,
    technology_id: int,
    body: ResponseIn,
    *,
    actor: str = "platform",
) -> PlatformResponse:
    """Record (or change) a platform's answer to a technology that fits it, for ``actor`` (``platform``, or
    ``admin`` acting for it). The answer may change until an introduction is made; sending the same answer again
    after that is harmless. A deactivated platform cannot answer (it is neither matched nor introduced)."""
    with Session(db, expire_on_commit=False) as s:
        tech = s.get(Technology, technology_id)
        platform = s.get(Platform, platform_id)
    if platform is None:
        raise NotFound(f"Platform {platform_id} does not exist.")
    if not platform.active:
        raise Conflict(
            f"Platform {platform_id} is deactivated: it answers technologies again once it is active."
        )
    if tech is None or not platform_may_answer(db, engine, tech, platform_id):
        raise NotFound(
            f"Technology {technology_id} is not among the technologies that fit platform {platform_id} (those it "
            "was notified of, or that its list of technologies that fit shows)."
        )
    row = _store(db, technology_id, platform_id, body)
    if body.reason == "no_capacity":
        pause_capacity(db, engine, platform_id, decliner(actor, platform_id))
    settle(db, settings, technology_id, platform_id, actor=actor)
    return row


def _store(db: Engine, technology_id: int, platform_id: int, body: ResponseIn) -> PlatformResponse:
    answer = (body.decision, body.reason, body.message)
    for attempt in (1, 2):
        with Session(db, expire_on_commit=False) as s:
            lock_technology(s, technology_id)
            technology = s.get(Technology, technology_id)
            if technology is None:  # deleted while this was on its way
                raise NotFound(f"Technology {technology_id} does not exist.")
            row = _pair(s, technology_id, platform_id)
            if _made(s, technology_id, platform_id):
                if row is not None and (row.decision, row.reason, row.message) == answer:
                    return row
                raise Conflict("The introduction was made: the answer can no longer change.")
            now = utcnow()
            was_out = row is not None and row.decision == "declined" and row.reason in NOT_A_FIT
            if row is None:
                row = PlatformResponse(
                    technology_id=technology_id,
                    platform_id=platform_id,
                    decision=body.decision,
                    first_responded_at=now,
                )
            row.decision, row.reason, row.message, row.responded_at = (*answer, now)
            if (
                was_out != (row.decision == "declined" and row.reason in NOT_A_FIT)
                and technology.status != "closed"
            ):
                # The platform leaves (or rejoins) the technology's matches: its best and verdict are worked out
                # again by the worker.
                technology.needs_matching = True
                s.add(technology)
            s.add(row)
            try:
                s.commit()
            except IntegrityError:  # a first answer sent twice at once: the second becomes a change
                s.rollback()
                if attempt == 2:
                    raise
                continue
            return row
    raise AssertionError("unreachable")


def responses_of(db: Engine, technology_id: int) -> list[PlatformResponse]:
    """Every platform's answer to one technology, oldest first."""
    with Session(db, expire_on_commit=False) as s:
        return list(
            s.exec(
                select(PlatformResponse)
                .where(PlatformResponse.technology_id == technology_id)
                .order_by(PlatformResponse.first_responded_at, PlatformResponse.id)  # type: ignore[arg-type]
            ).all()
        )


def responses_by_technology(
    db: Engine, platform_id: int, technology_ids: list[int]
) -> dict[int, PlatformResponse]:
    """One platform's answers to these technologies (for its inbox and its "technologies that fit")."""
    return platform_rows_by_technology(db, PlatformResponse, platform_id, technology_ids)


def _pair(s: Session, technology_id: int, platform_id: int) -> PlatformResponse | None:
    return s.exec(
        select(PlatformResponse).where(
            PlatformResponse.technology_id == technology_id, PlatformResponse.platform_id == platform_id
        )
    ).first()


def _made(s: Session, technology_id: int, platform_id: int) -> bool:
    made = s.exec(
        select(Introduction.introduced_at).where(
            Introduction.technology_id == technology_id, Introduction.platform_id == platform_id
        )
    ).first()
    return made is not None


def pair_states(db: Engine, platform_id: int, technology_ids: list[int]) -> PairStates:
    """One platform's answers and introductions for these technologies (its inbox, its "technologies that fit")."""
    return PairStates(
        responses_by_technology(db, platform_id, technology_ids),
        introductions_by_technology(db, platform_id, technology_ids),
    )
