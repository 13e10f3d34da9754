"""Run a programme's assignment, store it, and read it back: who may see which run is decided here.

A province administrator assigns only technologies of its province (a technology is of a province when its
``preferred_provinces`` names it) to platforms of its province, and reads only its province's runs. Naming a
technology outside its province, or one that does not exist, refuses the whole request with 404 naming none of
them, so the answer cannot tell which of another province's technologies exist. The full admin gets unknown and
closed technologies back in ``unassigned``, with the reason.

Running an assignment changes no platform: ``capacity`` is a platform's slots as it states them, read, never
spent. A request that leaves ``min_score`` out gets the "possible" fit's threshold, stored in the run as the
rule it was solved with, so a run never hands out weak fits unless someone asked for them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from matcher.accounts.principal import Principal
from matcher.errors import NotFound
from matcher.matching.engine import MatchEngine
from matcher.pagination import keyset_page
from matcher.programmes.candidates import platform_slots, province_platforms, technology_candidates
from matcher.programmes.models import AssignmentRun
from matcher.programmes.schemas import (
    Assignment,
    AssignmentOut,
    AssignmentRequest,
    AssignmentSummary,
    Unassigned,
)
from matcher.programmes.solver import Candidate, Solution, eligible, greedy, solve
from matcher.technologies.models import Technology

UNKNOWN = "unknown technology"
CLOSED = "technology is closed"
NO_FIT = "no platform above min_score"
FULL = "all fitting platforms are full"


def created_by(actor: Principal) -> str:
    """How a run names who ran it: the role, and the key's id when the key is stored (not the configured one)."""
    return actor.role if actor.key_id is None else f"{actor.role}:{actor.key_id}"


def _province(body: AssignmentRequest, actor: Principal) -> str | None:
    """The province whose platforms are assigned: a province key's own, whatever it sent."""
    if not actor.is_province_admin:
        return body.province
    if body.province is not None and body.province != actor.province:
        raise NotFound(f"Province {body.province} has no platforms you administer.")
    return actor.province


def _technologies(db: Engine, ids: Sequence[int], actor: Principal) -> dict[int, Technology]:
    with Session(db, expire_on_commit=False) as s:
        rows = s.exec(select(Technology).where(col(Technology.id).in_(list(ids)))).all()
    found = {t.id: t for t in rows}
    if actor.is_province_admin and (
        len(found) != len(set(ids)) or any(actor.province not in (t.preferred_provinces or ()) for t in rows)
    ):
        raise NotFound("Some of these technologies do not exist in your province; nothing was assigned.")
    return found  # type: ignore[return-value]


def run_assignment(
    db: Engine, engine: MatchEngine, body: AssignmentRequest, actor: Principal
) -> AssignmentRun:
    """Score each requested technology's best platforms, solve, compare with greedy, and store the run."""
    province = _province(body, actor)
    technologies = _technologies(db, body.technology_ids, actor)
    allowed = province_platforms(db, province) if province is not None else None
    k = body.per_technology
    candidates: list[Candidate] = []
    reasons: dict[int, str] = {}
    for tid in body.technology_ids:
        tech = technologies.get(tid)
        if tech is None or tech.status == "closed":
            reasons[tid] = UNKNOWN if tech is None else CLOSED
            continue
        candidates += technology_candidates(db, engine, tech, k, allowed)
    capacities = platform_slots(
        db, {c.platform_id for c in candidates}, body.respect_capacity, body.max_per_platform
    )
    candidates = [c for c in candidates if c.platform_id in capacities]
    min_score = engine.fit.possible if body.min_score is None else body.min_score
    best = solve(candidates, k, capacities, min_score)
    chosen = eligible(candidates, capacities, min_score)
    result = _result(body.technology_ids, reasons, candidates, chosen, best, min_score)
    result |= {
        "greedy_objective": greedy(candidates, k, capacities, min_score).objective,
        "candidates": len(chosen),
    }
    run = AssignmentRun(
        province=province if actor.is_province_admin else None,
        created_by=created_by(actor),
        request=body.model_copy(update={"province": province, "min_score": min_score}).model_dump(
            mode="json"
        ),
        result=result,
    )
    with Session(db, expire_on_commit=False) as s:
        s.add(run)
        s.commit()
        s.refresh(run)
    return run


def _result(
    ids: Sequence[int],
    reasons: dict[int, str],
    candidates: list[Candidate],
    chosen: list[Candidate],
    best: Solution,
    min_score: float,
) -> dict:
    """Assignments in request order, each with how many platforms it could have had (``chosen``: the fits with a
    slot); a technology that got none is unassigned, with why."""
    given = best.by_technology()
    fitting = {c.technology_id for c in candidates if c.score > 0 and c.score >= min_score}
    room = Counter(c.technology_id for c in chosen)
    assignments, unassigned = [], []
    for tid in ids:
        if tid in given:
            pairs = given[tid]
            assignments.append(
                Assignment(
                    technology_id=tid,
                    platform_ids=[p.platform_id for p in pairs],
                    scores=[p.score for p in pairs],
                    fitting=room[tid],
                ).model_dump()
            )
        else:
            reason = reasons.get(tid) or (FULL if tid in fitting else NO_FIT)
            unassigned.append(Unassigned(technology_id=tid, reason=reason).model_dump())
    return {"assignments": assignments, "unassigned": unassigned, "objective": best.objective}


def get_run(db: Engine, run_id: int, actor: Principal) -> AssignmentRun:
    """A stored run, if the caller may read it: the full admin any, a province key its province's only."""
    with Session(db, expire_on_commit=False) as s:
        run = s.get(AssignmentRun, run_id)
    if run is None or not (actor.is_admin or (actor.is_province_admin and run.province == actor.province)):
        raise NotFound(f"Assignment {run_id} does not exist.")
    return run


def list_runs(
    db: Engine, actor: Principal, cursor: str | None = None, limit: int = 20
) -> tuple[list[AssignmentRun], str | None]:
    """The runs the caller may read (the full admin: all; a province key: its province's), newest first; returns
    (page, next cursor or None)."""
    if not actor.is_administrator:
        return [], None
    stmt = select(AssignmentRun)
    if not actor.is_admin:
        stmt = stmt.where(AssignmentRun.province == actor.province)
    with Session(db, expire_on_commit=False) as s:
        return keyset_page(s, stmt, AssignmentRun, cursor, limit, newest_first=True)


def run_summary(run: AssignmentRun) -> AssignmentSummary:
    assignments = run.result.get("assignments", [])
    return AssignmentSummary(
        id=run.id,  # type: ignore[arg-type]
        created_at=run.created_at,
        created_by=run.created_by,
        province=run.province,
        label=run.request.get("label"),
        technologies=len(run.request.get("technology_ids", [])),
        per_technology=run.request["per_technology"],
        min_score=run.request.get("min_score"),
        assigned=len(assignments),
        pairs=sum(len(a["platform_ids"]) for a in assignments),
        objective=run.result["objective"],
        greedy_objective=run.result["greedy_objective"],
        notified_at=run.notified_at,
    )


def run_out(run: AssignmentRun) -> AssignmentOut:
    return AssignmentOut(
        id=run.id,  # type: ignore[arg-type]
        created_at=run.created_at,
        created_by=run.created_by,
        province=run.province,
        request=AssignmentRequest.model_validate(run.request),
        notified_at=run.notified_at,
        **run.result,
    )
