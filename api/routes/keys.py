"""A platform's own API keys: issued, listed and revoked by the admin."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import PlatformAdministratorDep, RuntimeDep
from api.params import RowId
from api.problems import problem_responses
from matcher import create_platform_key, list_platform_keys, revoke_platform_key
from matcher.accounts.schemas import KeyCreated, KeyOut

#: Listed under "notifications" in the OpenAPI document, where these routes have always been.
router = APIRouter(prefix="/v1/platforms/{platform_id}", tags=["notifications"])

#: Routes for an administrator over the platform (full, or of its province); a platform's own key gets 403.
_ADMIN = (401, 403, 404, 422)


@router.post(
    "/keys",
    status_code=201,
    response_model=KeyCreated,
    summary="Issue this platform its own API key",
    responses=problem_responses(*_ADMIN),
)
def create_key(platform_id: RowId, rt: RuntimeDep, principal: PlatformAdministratorDep) -> KeyCreated:
    row, key = create_platform_key(rt.db, platform_id, principal)
    return KeyCreated(id=row.id, key=key)  # type: ignore[arg-type]


@router.get(
    "/keys",
    response_model=list[KeyOut],
    summary="The platform's keys (prefixes and last use only)",
    responses=problem_responses(*_ADMIN),
)
def list_keys(platform_id: RowId, rt: RuntimeDep, _: PlatformAdministratorDep) -> list[KeyOut]:
    return [KeyOut.model_validate(k) for k in list_platform_keys(rt.db, platform_id)]


@router.delete(
    "/keys/{key_id}",
    status_code=204,
    summary="Revoke a key at once",
    responses=problem_responses(*_ADMIN),
)
def revoke_key(
    platform_id: RowId, key_id: RowId, rt: RuntimeDep, principal: PlatformAdministratorDep
) -> Response:
    revoke_platform_key(rt.db, platform_id, key_id, principal)
    return Response(status_code=204)
