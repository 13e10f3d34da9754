"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from prometheus_fastapi_instrumentator import Instrumentator
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp

from api.admission import install_admission
from api.deps import get_optional_principal, require_admin
from api.middleware import BodyLimitMiddleware, RequestLogMiddleware
from api.problems import install_problem_handlers
from api.routes import (
    admin_keys,
    applications,
    assignments,
    introductions,
    keys,
    match,
    notifications,
    platforms,
    reports,
    submissions,
    system,
    technologies,
)
from api.security_headers import NoSniffMiddleware
from api.web.install import install_web
from matcher import DeliveryWorker, Runtime, Settings
from matcher.logs import configure_logging

log = logging.getLogger("pilotmatch.api")

DESCRIPTION = """
PilotMatch links research labs to manufacturing pilot-test platforms (中试平台).

* `POST /v1/match` ranks platforms for a technology description (Chinese or English) and explains each score.
* Platforms and technologies are managed under `/v1/platforms` and `/v1/technologies`; writes need
  `Authorization: Bearer <key>`.
* Errors are RFC 9457 `application/problem+json`.
"""


#: Swagger UI's script, style and icon, served from this process (no CDN): the files fastapi-offline ships.
SWAGGER_ASSETS = Path(str(files("fastapi_offline") / "static"))
DOCS_ASSETS_URL = "/docs/assets"


class PilotMatchAPI(FastAPI):
    """FastAPI whose outermost layer adds ``nosniff``, outside even Starlette's error middleware (which answers
    an unhandled error's 500 beyond the reach of ordinary middleware)."""

    def build_middleware_stack(self) -> ASGIApp:
        return NoSniffMiddleware(super().build_middleware_stack())


def load_settings() -> Settings:
    """Settings from the environment (and ``.env``). An invalid value, such as an admin key shorter than 24
    characters, stops start-up with one line that names the variable, not a traceback."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SystemExit(f"PilotMatch cannot start: {describe_invalid_settings(exc)}") from None


def describe_invalid_settings(exc: ValidationError) -> str:
    """One line naming each invalid variable (``PILOTMATCH_ADMIN_KEY: ...``) and what is wrong with it."""
    parts = []
    for error in exc.errors():
        variable = "PILOTMATCH_" + "__".join(str(p) for p in error.get("loc", ())).upper()
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(message if message.startswith(variable) else f"{variable}: {message}")
    return "; ".join(parts)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the app. With ``runtime`` the caller owns it (tests, scripts); otherwise start-up opens one."""
    settings = settings or (runtime.settings if runtime else load_settings())
    configure_logging(settings.log_format, settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        rt = runtime or await run_in_threadpool(Runtime.open, settings)
        app.state.runtime = rt
        worker = None
        if owned:
            rt.follower.start_thread()
        if owned and settings.run_worker_in_process:
            # The embedded default: one process serves the API and delivers notifications.
            worker = DeliveryWorker(rt.db, rt.engine, rt.settings, rt.follower)
            thread = worker.start_thread()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()
                await run_in_threadpool(thread.join, 15)
            if owned:
                await run_in_threadpool(rt.close)

    app = PilotMatchAPI(
        title="PilotMatch",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    if runtime is not None:
        app.state.runtime = runtime
    install_problem_handlers(app)
    install_admission(app, settings)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestLogMiddleware)
    # An Authorization header is checked on every /v1 route, public ones included (see get_optional_principal).
    checks_key = [Depends(get_optional_principal)]
    app.include_router(system.router)
    app.include_router(match.router, dependencies=checks_key)
    app.include_router(platforms.router, dependencies=checks_key)
    app.include_router(technologies.router, dependencies=checks_key)
    app.include_router(notifications.router, dependencies=checks_key)
    app.include_router(submissions.router, dependencies=checks_key)
    app.include_router(introductions.router, dependencies=checks_key)
    app.include_router(keys.router, dependencies=checks_key)
    app.include_router(reports.router, dependencies=checks_key)
    app.include_router(admin_keys.router, dependencies=checks_key)
    app.include_router(applications.router, dependencies=checks_key)
    app.include_router(assignments.router, dependencies=checks_key)
    install_web(app)
    _install_docs(app)
    # Request latency histograms and counts per route, plus the domain's own metrics, at /metrics; they name
    # routes, load and index sizes, so only the admin key reads them unless a trusted scraper is configured.
    guard = [] if settings.metrics_public else [Depends(require_admin)]
    Instrumentator(excluded_handlers=["/metrics"]).instrument(app).expose(
        app, include_in_schema=False, dependencies=guard
    )
    return app


def _install_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from local files. The validator badge is off: it would send the document's address
    to validator.swagger.io."""
    app.mount(DOCS_ASSETS_URL, StaticFiles(directory=SWAGGER_ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="PilotMatch API",
            swagger_js_url=f"{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS_URL}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},
        )
