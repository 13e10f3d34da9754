"""Administrator keys: the full admin issues, lists and revokes keys for other administrators and for province
administrators (each issue and revocation is logged with who did it)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import AdminDep, RuntimeDep
from api.params import RowId
from api.problems import problem_responses
from matcher.accounts.admin_keys import admin_key_out, issue_admin_key, list_admin_keys, revoke_admin_key
from matcher.accounts.schemas import AdminKeyCreate, AdminKeyCreated, AdminKeyOut

router = APIRouter(prefix="/v1/admin-keys", tags=["administration"])

_FULL_ADMIN = (401, 403, 422)


@router.post(
    "",
    status_code=201,
    response_model=AdminKeyCreated,
    summary="Issue an administrator key: one province's, or a full one (full admin only; shown once)",
    responses=problem_responses(*_FULL_ADMIN),
)
def create_admin_key(body: AdminKeyCreate, rt: RuntimeDep, principal: AdminDep) -> AdminKeyCreated:
    row, key = issue_admin_key(rt.db, body, principal)
    out = admin_key_out(row)
    return AdminKeyCreated(id=out.id, key=key, scope=out.scope, province=out.province, label=out.label)


@router.get(
    "",
    response_model=list[AdminKeyOut],
    summary="Every administrator key issued (prefixes, scope and last use; never the key)",
    responses=problem_responses(401, 403),
)
def get_admin_keys(rt: RuntimeDep, _: AdminDep) -> list[AdminKeyOut]:
    return [admin_key_out(row) for row in list_admin_keys(rt.db)]


@router.delete(
    "/{key_id}",
    status_code=204,
    summary="Revoke an administrator key at once (its web sessions end with it)",
    responses=problem_responses(401, 403, 404, 422),
)
def delete_admin_key(key_id: RowId, rt: RuntimeDep, principal: AdminDep) -> Response:
    revoke_admin_key(rt.db, key_id, principal)
    return Response(status_code=204)
