"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_fastapi_instrumentator import Instrumentator
from starlette.concurrency import run_in_threadpool

from api.middleware import BodyLimitMiddleware, RequestLogMiddleware
from api.problems import install_problem_handlers
from api.routes import match, notifications, platforms, reports, system, technologies
from api.web.install import install_web
from matcher.logs import configure_logging
from matcher.notifications.delivery import DeliveryWorker
from matcher.runtime import Runtime
from matcher.settings import Settings

log = logging.getLogger("pilotmatch.api")

DESCRIPTION = """
PilotMatch links research labs to manufacturing pilot-test platforms (中试平台).

* `POST /v1/match` ranks platforms for a technology description (Chinese or English) and explains each score.
* Platforms and technologies are managed under `/v1/platforms` and `/v1/technologies`; writes need
  `Authorization: Bearer <key>`.
* Errors are RFC 9457 `application/problem+json`.
"""


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the app. With ``runtime`` the caller owns it (tests, scripts); otherwise start-up opens one."""
    settings = settings or (runtime.settings if runtime else Settings())
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
            worker = DeliveryWorker(rt)
            thread = worker.start_thread()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()
                await run_in_threadpool(thread.join, 15)
            if owned:
                await run_in_threadpool(rt.close)

    app = FastAPI(
        title="PilotMatch",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    if runtime is not None:
        app.state.runtime = runtime
    install_problem_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestLogMiddleware)
    app.include_router(system.router)
    app.include_router(match.router)
    app.include_router(platforms.router)
    app.include_router(technologies.router)
    app.include_router(notifications.router)
    app.include_router(reports.router)
    install_web(app)
    # Request latency histograms and counts per route, plus the domain's own metrics, at /metrics.
    Instrumentator(excluded_handlers=["/metrics"]).instrument(app).expose(app, include_in_schema=False)
    return app
