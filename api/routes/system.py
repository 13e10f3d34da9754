"""Health and taxonomy."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import RuntimeDep
from api.schemas import Health

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
    "/v1/taxonomy",
    summary="Key areas, industry directions, tiers, service types, priority sectors and provinces",
    tags=["taxonomy"],
)
def taxonomy(rt: RuntimeDep) -> dict:
    return rt.taxonomy.as_dict()
