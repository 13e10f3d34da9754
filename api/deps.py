"""Dependencies, declared once as ``Annotated`` aliases and injected into routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from api.params import RowId
from matcher import NotFound, Principal, Runtime, authenticate
from matcher.accounts.service import touch
from matcher.platforms.permissions import platform_province
from matcher.technologies.service import technology_provinces

_bearer = HTTPBearer(
    auto_error=False, description="An admin key, a province administrator's key, or a platform's own key."
)


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
        raise HTTPException(403, "Only the full admin key may do this.")
    return principal


#: The full admin only: the network's tiers, administrator keys, system operations.
AdminDep = Annotated[Principal, Depends(require_admin)]


def require_administrator(principal: PrincipalDep) -> Principal:
    if not principal.is_administrator:
        raise HTTPException(403, "Only an administrator key (full or province) may do this.")
    return principal


#: The full admin or a province administrator; the route then keeps a province key inside its province.
AdministratorDep = Annotated[Principal, Depends(require_administrator)]


def platform_principal(platform_id: RowId, principal: PrincipalDep, rt: RuntimeDep) -> Principal:
    """The caller may act for this platform (the admin, an administrator of its province, or its own key), and it
    exists. Anyone else gets 404, never 403: they may not learn what exists. Every route under a deleted platform
    is 404 (its own keys were revoked with it, so they are 401 before this)."""
    exists, province = platform_province(rt.db, platform_id)
    if not exists or not principal.acts_for(platform_id, province):
        raise NotFound(f"Platform {platform_id} does not exist.")
    return principal


PlatformAccessDep = Annotated[Principal, Depends(platform_principal)]


def administer_platform(principal: Annotated[Principal, Depends(platform_principal)]) -> Principal:
    """An administrator over this platform (full, or of its province); its own key gets 403."""
    if not principal.is_administrator:
        raise HTTPException(403, "Only an administrator over this platform may do this.")
    return principal


#: An administrator over the platform in the path.
PlatformAdministratorDep = Annotated[Principal, Depends(administer_platform)]


def administer_technology(technology_id: RowId, principal: AdministratorDep, rt: RuntimeDep) -> Principal:
    """An administrator over the technology in the path: the full admin, or a province key when the technology
    prefers its province. Anyone else with an administrator key gets 404, as for platforms."""
    provinces = technology_provinces(rt.db, technology_id)
    if provinces is None or not principal.governs_any(provinces):
        raise NotFound(f"Technology {technology_id} does not exist.")
    return principal


#: An administrator over the technology in the path.
TechnologyAdministratorDep = Annotated[Principal, Depends(administer_technology)]
