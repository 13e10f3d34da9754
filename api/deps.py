"""Dependencies, declared once as ``Annotated`` aliases and injected into routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from api.params import RowId
from matcher.accounts.service import Principal, authenticate, platform_exists, touch
from matcher.errors import NotFound
from matcher.runtime import Runtime

_bearer = HTTPBearer(auto_error=False, description="An admin key, or a platform's own key.")


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_principal(
    rt: RuntimeDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise HTTPException(401, "This operation needs an API key: send 'Authorization: Bearer <key>'.")
    principal = authenticate(rt.db, rt.settings, credentials.credentials)
    if principal is None:
        raise HTTPException(401, "The API key is not valid (unknown or revoked).")
    touch(rt.db, principal)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def get_optional_principal(
    request: Request,
    rt: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """Who is calling on a public route: None when anonymous. A request that sends an ``Authorization`` header
    meant to identify itself: a key that is not valid, or a header that is not ``Bearer <key>`` (a forgotten
    ``Bearer``), is a 401 rather than a quietly anonymous answer."""
    if "authorization" not in request.headers:
        return None
    if credentials is None or not credentials.credentials:
        raise HTTPException(401, "Send the API key as 'Authorization: Bearer <key>'.")
    return get_principal(rt, credentials)


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
