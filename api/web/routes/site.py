"""Site-wide pages: the language switch and error pages."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.web.context import WebContext, WebDep, get_assets, safe_next
from api.web.i18n import LANGUAGES
from api.web.session import LANG_COOKIE

router = APIRouter(include_in_schema=False)


@router.get("/lang/{lang}")
def switch_language(lang: str, ctx: WebDep) -> Response:
    """Remember the language for a year and go back to the page the switch was clicked on."""
    response = ctx.redirect(safe_next(ctx.request.query_params.get("next")))
    if lang in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax", httponly=True)
    return response


def wants_html(request: Request) -> bool:
    """Pages get HTML errors; the JSON API, docs, health and metrics keep problem+json."""
    path = request.url.path
    if path.startswith(("/v1", "/healthz", "/readyz", "/metrics", "/docs", "/redoc", "/openapi", "/static")):
        return False
    return "text/html" in request.headers.get("accept", "") or request.headers.get("HX-Request") == "true"


def render_error(request: Request, status: int, detail: str) -> Response:
    from api.deps import get_runtime

    ctx = WebContext(request, get_runtime(request), get_assets(request))
    key = {404: "error.not_found", 403: "error.forbidden"}.get(status)
    return ctx.render(
        "error.html", status, status=status, message=ctx.t(key) if key else detail, detail=detail
    )
