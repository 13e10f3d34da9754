"""Attach the web app to the FastAPI application: static files, page routes, shared template state."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.web.context import STATIC_DIR, WebAssets, build_environment
from api.web.routes import (
    applications,
    assignments,
    coverage,
    directory,
    engagements,
    find,
    operator,
    private_link,
    reports,
    review,
    site,
)


class HtmlErrors:
    """What ``api.problems`` asks to turn an error into a page for requests that came from one."""

    wants_html = staticmethod(site.wants_html)
    render = staticmethod(site.render_error)


def install_web(app: FastAPI) -> None:
    app.state.web = WebAssets(build_environment())
    app.state.html_error = HtmlErrors()
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    pages = (
        find,
        private_link,
        directory,
        operator,
        engagements,
        coverage,
        reports,
        applications,
        review,
        assignments,
    )
    for module in (*pages, site):
        app.include_router(module.router)
