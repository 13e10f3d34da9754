"""Health and taxonomy."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.admission import Admission
from api.deps import RuntimeDep, get_optional_principal
from api.schemas import Health
from matcher import Runtime
from matcher.notifications.outbox import queue_depth

router = APIRouter()


@router.get(
    "/healthz",
    summary="Liveness: 200 once the model and indexes are loaded",
    response_model=Health,
    tags=["system"],
)
async def healthz(request: Request) -> Health:
    """Cheap on purpose: no database, no lock, no thread, so it answers at once however busy matching is."""
    rt: Runtime = request.app.state.runtime
    return Health(
        status="ok",
        model=rt.engine.vectors.embedder.model_id,
        platforms=rt.engine.count("platforms"),
        technologies=rt.engine.count("technologies"),
    )


@router.get(
    "/readyz",
    summary="Readiness: database reachable, indexes loaded and match queue not full (503 otherwise)",
    description="`matching` reports the match gate: `in_flight` and `queued` matches, the configured "
    "`concurrency` and `queue`, and `status` (`ok`, `busy` when a new match would wait, `overloaded` when it "
    "would be refused). An overloaded process answers 503 with `status: overloaded`, so a balancer sends "
    "matches elsewhere until its queue has room.",
    tags=["system"],
    responses={503: {"description": "Not ready, or overloaded"}},
)
def readyz(request: Request, rt: RuntimeDep) -> JSONResponse:
    checks: dict[str, object] = {"indexes_loaded": rt.engine.ready}
    try:
        with rt.db.connect() as conn:
            conn.execute(text("SELECT 1"))
            checks["database"] = True
        checks |= queue_depth(rt.db)
    except SQLAlchemyError as exc:
        checks["database"] = False
        checks["error"] = type(exc).__name__
    ready = bool(checks.get("database")) and rt.engine.ready
    admission: Admission = request.app.state.admission
    gate = admission.gate.stats()
    checks["matching"] = asdict(gate) | {"status": gate.status}
    overloaded = gate.status == "overloaded"
    checks["status"] = "not ready" if not ready else "overloaded" if overloaded else "ready"
    if rt.follower is not None:
        checks["change_log_lag"] = rt.follower.lag
    checks["platforms"] = rt.engine.count("platforms")
    checks["technologies"] = rt.engine.count("technologies")
    return JSONResponse(checks, status_code=200 if ready and not overloaded else 503)


@router.get(
    "/v1/taxonomy",
    summary="Key areas, industry directions, tiers, service types, priority sectors and provinces",
    tags=["taxonomy"],
    dependencies=[Depends(get_optional_principal)],
)
def taxonomy(rt: RuntimeDep) -> dict:
    return rt.taxonomy.as_dict()
