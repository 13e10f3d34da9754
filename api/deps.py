"""Dependencies, declared once as ``Annotated`` aliases and injected into routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from api.params import RowId
from matcher import NotFound, Principal, Runtime, authenticate
from matcher.accounts.service import platform_exists, touch

_bearer = HTTPBearer(auto_error=False, description="An admin key, or a platform's own key.")


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_optional_principal(
    request: Request,
    rt: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """Who is calling: None when anonymous. A request that sends an ``Authorization`` header means to identify
    itself, so a key that is not valid (unknown, revoked, its platform deleted) or a header that is not
    ``Bearer <key>`` (a forgotten ``Bearer``) is a 401 on every ``/v1`` route, never a quietly anonymous answer.
    Every API router depends on this; FastAPI runs it once per request, shared with ``get_principal``."""
    if "authorization" not in request.headers:
        return None
    if credentials is None or not credentials.credentials:
        raise HTTPException(401, "Send the API key as 'Authorization: Bearer <key>'.")
    principal = authenticate(rt.db, rt.settings, credentials.credentials)
    if principal is None:
        raise HTTPException(401, "The API key is not valid (unknown or revoked).")
    touch(rt.db, principal)
    return principal


def get_principal(principal: Annotated[Principal | None, Depends(get_optional_principal)]) -> Principal:
    if principal is None:
        raise HTTPException(401, "This operation needs an API key: send 'Authorization: Bearer <key>'.")
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


OptionalPrincipalDep = Annotated[Principal | None, Depends(get_optional_principal)]


def require_admin(principal: PrincipalDep) -> Principal:
    if not principal.is_admin:
        raise HTTPException(403, "Only the admin key may do this.")
    return principal


AdminDep = Annotated[Principal, Depends(require_admin)]


def require_platform_access(principal: Principal, platform_id: int) -> None:
    """The admin, or the platform's own key. Another platform's key gets 404: it may not learn what exists."""
    if principal.is_admin:
        return
    if principal.platform_id != platform_id:
        raise NotFound(f"Platform {platform_id} does not exist.")


def platform_principal(platform_id: RowId, principal: PrincipalDep, rt: RuntimeDep) -> Principal:
    """The caller may act for this platform, and it exists: every route under a deleted platform is 404 (its own
    keys were revoked with it, so they are 401 before this)."""
    require_platform_access(principal, platform_id)
    if not platform_exists(rt.db, platform_id):
        raise NotFound(f"Platform {platform_id} does not exist.")
    return principal


PlatformAccessDep = Annotated[Principal, Depends(platform_principal)]
