"""RFC 9457 problem details for every error, from one place."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from matcher.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PilotMatchError,
    SchemaTooNew,
)

log = logging.getLogger("pilotmatch.api")

PROBLEM_JSON = "application/problem+json"
_STATUS = {NotFound: 404, InvalidInput: 422, Forbidden: 403, Conflict: 409, SchemaTooNew: 500}
_SLUG = {404: "not-found", 422: "invalid-input", 409: "conflict", 503: "unavailable", 500: "server-error"}


class ProblemDetails(BaseModel):
    """RFC 9457 problem details: every error this API answers has this shape."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URI naming the kind of problem.")
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = Field(
        None,
        description="For 422: each invalid field, what is wrong with it and, for codes, what is allowed.",
    )


_PROBLEM_DESCRIPTIONS = {
    400: "Bad request",
    401: "No API key, or one that is unknown or revoked",
    403: "The key may not do this",
    404: "Not found (or not visible to this key)",
    409: "Conflicts with stored data (e.g. a duplicate external_id); nothing was stored",
    413: "Request body too large",
    422: "Invalid input; `errors` names each field",
    429: "Too many requests; retry after `Retry-After` seconds",
    503: "Overloaded or not ready; retry after `Retry-After` seconds",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for error statuses a route can answer, each an ``application/problem+json``
    body. Routes declare theirs with ``responses=problem_responses(404, 409)``."""
    return {
        status: {
            "description": _PROBLEM_DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
            "content": {PROBLEM_JSON: {"schema": ProblemDetails.model_json_schema(ref_template="{model}")}},
        }
        for status in statuses
    }


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


def _loc(loc: tuple | list) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or "body"


async def _html_error(request: Request, status: int, detail: str) -> Response | None:
    """An HTML error page when the web app is installed and the request came from a page, else None."""
    page = getattr(request.app.state, "html_error", None)
    if page is None or not page.wants_html(request):
        return None
    return await run_in_threadpool(page.render, request, status, detail)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(PilotMatchError)
    async def _domain(request: Request, exc: PilotMatchError) -> Response:
        status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 400)
        if (page := await _html_error(request, status, exc.detail)) is not None:
            return page
        extra: dict[str, Any] = {}
        if isinstance(exc, InvalidInput):
            extra["errors"] = [{"field": exc.field or "body", "message": exc.detail, "allowed": exc.allowed}]
        return problem(status, exc.detail, exc.title, instance=request.url.path, **extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        # Pages take their input from forms and report it beside fields; what reaches here is a malformed
        # address (``/platforms/abc``), which for a person is simply a page that does not exist.
        if (page := await _html_error(request, 404, "Not found")) is not None:
            return page
        errors = [{"field": _loc(e.get("loc", ())), "message": e.get("msg", "invalid")} for e in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return problem(422, detail, "Invalid input", instance=request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if (page := await _html_error(request, exc.status_code, str(exc.detail))) is not None:
            return page
        return problem(exc.status_code, str(exc.detail), instance=request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"fields": {"path": request.url.path}})
        return problem(500, "An unexpected error occurred; it has been logged.", instance=request.url.path)
