"""Health and taxonomy."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.deps import RuntimeDep
from api.schemas import Health
from matcher.notifications.service import queue_depth

router = APIRouter()


@router.get(
    "/healthz",
    summary="Liveness: 200 once the model and indexes are loaded",
    response_model=Health,
    tags=["system"],
)
def healthz(rt: RuntimeDep) -> Health:
    return Health(
        status="ok",
        model=rt.engine.embedder.model_id,
        platforms=len(rt.engine.platforms.dense),
        technologies=len(rt.engine.technologies.dense),
    )


@router.get(
    "/readyz",
    summary="Readiness: database reachable and indexes loaded (503 otherwise), with queue depth",
    tags=["system"],
    responses={503: {"description": "Not ready"}},
)
def readyz(rt: RuntimeDep) -> JSONResponse:
    checks: dict[str, object] = {"indexes_loaded": rt.engine.ready}
    try:
        with rt.db.connect() as conn:
            conn.execute(text("SELECT 1"))
            checks["database"] = True
        checks |= queue_depth(rt)
    except SQLAlchemyError as exc:
        checks["database"] = False
        checks["error"] = type(exc).__name__
    ready = bool(checks.get("database")) and rt.engine.ready
    checks["status"] = "ready" if ready else "not ready"
    if rt.follower is not None:
        checks["change_log_lag"] = rt.follower.lag
    checks["platforms"] = len(rt.engine.platforms.dense)
    checks["technologies"] = len(rt.engine.technologies.dense)
    return JSONResponse(checks, status_code=200 if ready else 503)


@router.get(
    "/v1/taxonomy",
    summary="Key areas, industry directions, tiers, service types, priority sectors and provinces",
    tags=["taxonomy"],
)
def taxonomy(rt: RuntimeDep) -> dict:
    return rt.taxonomy.as_dict()
