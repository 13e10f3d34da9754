"""RFC 9457 problem details for every error, from one place: the handlers that answer them, and their place in
the OpenAPI document.

Every operation's error statuses are documented as ``application/problem+json`` bodies referencing one
``Problem`` schema. The ones that follow from a route's signature are added here, so no route has to remember
them: 422 for any parameter or body; 400 (unreadable) and 413 (too large) for a body; 404 for a path id (see
``api.params.RowId``); 401 for a route that needs a key, 403 for one that needs the admin key, 404 for one that
a platform's own key may use (another platform's key gets 404). Routes add what only they know, e.g.
``responses=problem_responses(409)``.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request, routing
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.deps import (
    administer_platform,
    administer_technology,
    get_optional_principal,
    get_principal,
    platform_principal,
    require_admin,
    require_administrator,
)
from matcher import Conflict, Forbidden, InvalidInput, NotFound, PilotMatchError, SchemaTooNew
from matcher.errors import FieldError
from matcher.fields import field_errors

log = logging.getLogger("pilotmatch.api")

PROBLEM_JSON = "application/problem+json"
_STATUS = {NotFound: 404, InvalidInput: 422, Forbidden: 403, Conflict: 409, SchemaTooNew: 500}
_SLUG = {404: "not-found", 422: "invalid-input", 409: "conflict", 503: "unavailable", 500: "server-error"}


class FieldProblem(BaseModel):
    """One invalid value of a 422."""

    field: str = Field(description="Where: a JSON path such as `directions[1]`, a parameter name, or `body`.")
    message: str
    allowed: list[str] | None = Field(None, description="For an unknown code: the valid codes.")
    value: str | None = Field(None, description="For an unknown code: the code as sent.")


class ProblemDetails(BaseModel):
    """RFC 9457 problem details: every error this API answers has this shape."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = Field(description="A URI naming the kind of problem.")
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldProblem] | None = Field(
        None,
        description="For 422: every invalid field of the request at once, each with what is wrong with it and, "
        "for codes, the code sent and what is allowed.",
    )


#: Where the OpenAPI document keeps the one ``Problem`` schema every error response refers to.
PROBLEM_REF = "#/components/schemas/Problem"


_PROBLEM_DESCRIPTIONS = {
    400: "The body could not be read (e.g. not UTF-8)",
    401: "No API key, or one that is unknown or revoked",
    403: "The key may not do this",
    404: "Not found (or not visible to this key)",
    409: "Conflicts with stored data (e.g. a duplicate external_id); nothing was stored",
    413: "Request body too large",
    422: "Invalid input; `errors` names every invalid field at once",
    429: "Too many requests; retry after `Retry-After` seconds",
    503: "Overloaded or not ready; retry after `Retry-After` seconds",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for error statuses a route can answer, each an ``application/problem+json``
    body. Routes declare theirs with ``responses=problem_responses(404, 409)``."""
    return {status: _problem_response(status) for status in statuses}


def _problem_response(status: int) -> dict[str, Any]:
    return {
        "description": _PROBLEM_DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
        "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
    }


#: Statuses a dependency answers by itself, wherever a route uses it.
_DEPENDENCY_STATUSES: dict[Any, tuple[int, ...]] = {
    get_principal: (401,),
    get_optional_principal: (401,),
    require_admin: (403,),
    require_administrator: (403,),
    platform_principal: (404,),
    administer_platform: (403,),
    administer_technology: (404,),
}


def _dependants(dependant: Dependant) -> list[Dependant]:
    out = [dependant]
    for sub in dependant.dependencies:
        out.extend(_dependants(sub))
    return out


def api_routes(app: FastAPI) -> list[APIRoute]:
    """The app's API routes as served (with their routers' prefixes and dependencies)."""
    # FastAPI 0.16x keeps included routers as such and resolves their routes in context; earlier ones copy them.
    contexts = getattr(routing, "iter_route_contexts", None)
    candidates = list(contexts(app.routes)) if contexts is not None else list(app.routes)
    return [r for r in candidates if isinstance(getattr(r, "original_route", r), APIRoute)]  # type: ignore[misc]


def route_problem_statuses(route: APIRoute) -> set[int]:
    """The error statuses that follow from a route's signature (see the module docstring)."""
    parts = _dependants(route.dependant)
    statuses: set[int] = set()
    if any(
        d.path_params or d.query_params or d.header_params or d.cookie_params or d.body_params for d in parts
    ):
        statuses.add(422)
    if any(d.body_params for d in parts):
        statuses.update((400, 413))
    if any(d.path_params for d in parts):
        statuses.add(404)
    for d in parts:
        statuses.update(_DEPENDENCY_STATUSES.get(d.call, ()))
    return statuses


def document_problems(app: FastAPI, schema: dict[str, Any]) -> dict[str, Any]:
    """Add the ``Problem`` schema and every route's error statuses to ``schema`` (FastAPI's document), and make
    its 422 the problem body this API really sends instead of FastAPI's own validation-error shape."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(
        ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")["$defs"]
        if "$defs" in ProblemDetails.model_json_schema()
        else {}
    )
    problem_schema = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
    problem_schema.pop("$defs", None)
    components["Problem"] = problem_schema
    for route in api_routes(app):
        if not route.include_in_schema:
            continue
        for method in route.methods or ():
            operation = schema.get("paths", {}).get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status in sorted(route_problem_statuses(route)):
                if str(status) not in responses or status == 422:
                    responses[str(status)] = _problem_response(status)
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def _install_openapi(app: FastAPI) -> None:
    generate = app.openapi  # FastAPI's own: cached, and made again when routes change
    documented: list[int] = []

    def openapi() -> dict[str, Any]:
        schema = generate()
        if documented != [id(schema)]:
            document_problems(app, schema)
            documented[:] = [id(schema)]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def problem(status: int, detail: str, title: str | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://pilotmatch.dev/problems/{_SLUG.get(status, HTTPStatus(status).phrase.lower().replace(' ', '-'))}",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


#: Where FastAPI says a request value was (the first part of a location); the field path follows it.
_PLACES = {("body",), ("query",), ("path",), ("header",), ("cookie",)}


def _field_problems(errors: list[FieldError]) -> list[dict[str, Any]]:
    """The ``errors`` of a 422: ``allowed`` and ``value`` only where they say something (an unknown code)."""
    return [
        {"field": e.field, "message": e.message}
        | ({"allowed": e.allowed} if e.allowed is not None else {})
        | ({"value": e.value} if e.value is not None else {})
        for e in errors
    ]


async def _html_error(request: Request, status: int, detail: str) -> Response | None:
    """An HTML error page when the web app is installed and the request came from a page, else None."""
    page = getattr(request.app.state, "html_error", None)
    if page is None or not page.wants_html(request):
        return None
    return await run_in_threadpool(page.render, request, status, detail)


def install_problem_handlers(app: FastAPI) -> None:
    _install_openapi(app)

    @app.exception_handler(PilotMatchError)
    async def _domain(request: Request, exc: PilotMatchError) -> Response:
        status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 400)
        if (page := await _html_error(request, status, exc.detail)) is not None:
            return page
        extra: dict[str, Any] = {}
        if isinstance(exc, InvalidInput):
            extra["errors"] = _field_problems(exc.errors)
        return problem(status, exc.detail, exc.title, instance=request.url.path, **extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        # Pages take their input from forms and report it beside fields; what reaches here is a malformed
        # address (``/platforms/abc``), which for a person is simply a page that does not exist.
        if (page := await _html_error(request, 404, "Not found")) is not None:
            return page
        # A path whose id is not a number, or not one a row can have, names nothing: 404, as for an id that is
        # well-formed but not stored (and never a database error for an id beyond its integer type).
        if any(tuple(e.get("loc", ()))[:1] == ("path",) for e in exc.errors()):
            return problem(
                404, f"Nothing is stored at {request.url.path}.", "Not found", instance=request.url.path
            )
        errors = field_errors(
            {**e, "loc": tuple(e.get("loc", ()))[1:] if tuple(e.get("loc", ()))[:1] in _PLACES else e["loc"]}
            for e in exc.errors()
        )
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        if len(errors) > 5:
            detail += f"; and {len(errors) - 5} more"
        return problem(
            422, detail, "Invalid input", instance=request.url.path, errors=_field_problems(errors)
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if (page := await _html_error(request, exc.status_code, str(exc.detail))) is not None:
            return page
        return problem(exc.status_code, str(exc.detail), instance=request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"fields": {"path": request.url.path}})
        return problem(500, "An unexpected error occurred; it has been logged.", instance=request.url.path)
