"""Per-request state of a page: language, session, signed-in operator, and how to render or redirect.

Every page response goes through ``WebContext.render`` or ``WebContext.redirect`` so the session cookie and the
security headers are set in one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlparse

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException

from api.deps import RuntimeDep
from api.web.i18n import Translator
from api.web.session import COOKIE, LANG_COOKIE, SIGN_IN_SECONDS, SessionCodec, WebSession
from matcher import Principal, Runtime
from matcher.accounts.service import (
    app_secret,
    authenticate_digest,
    close_sign_in,
    open_sign_in,
    signed_in_digest,
)
from matcher.engagements.schemas import OUTCOME_NAMES, STATUSES
from matcher.fields import FEEDBACK_REASONS
from matcher.platforms.permissions import platform_province

HERE = Path(__file__).parent
#: Pages under this prefix are a researcher's private link and what its forms post to.
PRIVATE_PREFIX = "/t/"
#: Every page whose address is its only key: a researcher's link, and an application's status page.
PRIVATE_PREFIXES = (PRIVATE_PREFIX, "/apply/")
STATIC_DIR = HERE / "static"

#: Pages allow only their own scripts, styles and forms (htmx is served from /static, never a CDN).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)


def highlight(text: str | None, terms: list[str] | None) -> Markup:
    """``text`` escaped, with every occurrence of ``terms`` wrapped in ``<mark>``. Escaping happens piece by piece
    around the matches, so a term can never open a tag."""
    if not text:
        return Markup("")
    words = sorted({t for t in terms or () if t and t.strip()}, key=len, reverse=True)
    if not words:
        return escape(text)
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    out: list[str] = []
    last = 0
    for m in pattern.finditer(text):
        out.append(str(escape(text[last : m.start()])))
        out.append(f"<mark>{escape(m.group(0))}</mark>")
        last = m.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))


def build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["highlight"] = highlight
    env.filters["pct"] = lambda x: f"{100 * (x or 0):.0f}%"
    env.filters["score"] = lambda x: "–" if x is None else f"{x:.2f}"
    # The domain's names of introduction statuses and decline reasons, for ``t.coded(STATUSES, code)``.
    env.globals |= {"STATUSES": STATUSES, "REASONS": FEEDBACK_REASONS, "OUTCOMES": OUTCOME_NAMES}
    return env


@dataclass
class WebAssets:
    """What every page shares: the template environment and the session codec (made once the database is up)."""

    env: Environment
    codec: SessionCodec | None = None

    def session_codec(self, rt: Runtime) -> SessionCodec:
        if self.codec is None:
            self.codec = SessionCodec(app_secret(rt.db, "web_session"))
        return self.codec


class WebContext:
    def __init__(self, request: Request, rt: Runtime, assets: WebAssets) -> None:
        self.request = request
        self.rt = rt
        self.assets = assets
        self.t = Translator(request.cookies.get(LANG_COOKIE, ""))
        self.session: WebSession = assets.session_codec(rt).load(request.cookies.get(COOKIE))
        self._principal: Principal | None = None
        self._principal_loaded = False

    @property
    def principal(self) -> Principal | None:
        """The signed-in operator (or admin), checked against the database on each request."""
        if not self._principal_loaded:
            token = self.session.sign_in_token
            digest = signed_in_digest(self.rt.db, token) if token else None
            found = authenticate_digest(self.rt.db, self.rt.settings, digest) if digest else None
            self._principal = replace(found, web=True) if found is not None else None
            self._principal_loaded = True
        return self._principal

    def sign_in(self, key_digest: str, principal: Principal) -> None:
        """A new sign-in replaces the one this browser had: the earlier one ends server-side too, so a copy of
        the old cookie opens nothing (signing in as someone else, then out, must not leave the first open)."""
        if self.session.sign_in_token:
            close_sign_in(self.rt.db, self.session.sign_in_token)
        self.session.sign_in(open_sign_in(self.rt.db, key_digest, SIGN_IN_SECONDS))
        self._principal, self._principal_loaded = replace(principal, web=True), True

    def sign_out(self) -> None:
        """End the sign-in server-side, then forget it in the cookie."""
        if self.session.sign_in_token:
            close_sign_in(self.rt.db, self.session.sign_in_token)
        self.session.sign_out()
        self._principal, self._principal_loaded = None, True

    def can_operate(self, platform_id: int) -> bool:
        """The signed-in key may act for this platform: its own, the admin, or the administrator of its province
        (whose province is read only for a province key: the others need no query)."""
        p = self.principal
        if p is None:
            return False
        province = platform_province(self.rt.db, platform_id)[1] if p.is_province_admin else None
        return p.acts_for(platform_id, province)

    def url_with(self, **changes: str) -> str:
        """This page's address with ``changes`` made to its query and the rest kept (the search, its filters), for
        links such as "more results" and "show weaker fits too"."""
        kept = [(k, v) for k, v in self.request.query_params.multi_items() if k not in changes]
        return f"{self.request.url.path}?{urlencode([*kept, *changes.items()])}"

    @property
    def is_htmx(self) -> bool:
        return self.request.headers.get("HX-Request") == "true"

    def render(self, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        html = self.assets.env.get_template(template).render(
            t=self.t,
            lang=self.t.lang,
            tax=self.rt.taxonomy,
            settings=self.rt.settings,
            principal=self.principal,
            csrf_token=self.session.csrf,
            path=self.request.url.path,
            full_path=_local_path(self.request),
            **values,
        )
        return self.finish(HTMLResponse(html, status_code=status_code))

    def redirect(self, url: str) -> Response:
        """303 to ``url``; to an htmx request, an ``HX-Redirect`` instead, so the browser goes there rather than
        htmx swapping the next page (say, the sign-in form after a session expired) into part of this one."""
        if self.request.headers.get("HX-Request") == "true":
            return self.finish(Response(status_code=204, headers={"HX-Redirect": url}))
        return self.finish(RedirectResponse(url, status_code=303))

    def finish(self, response: Response) -> Response:
        if self.request.url.path.startswith(PRIVATE_PREFIXES):
            # A private link's address is its only key: no copy in a cache, no Referer to the sites it links to.
            response.headers["Cache-Control"] = "no-store"
            response.headers["Referrer-Policy"] = "no-referrer"
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Vary", "Cookie, HX-Request")
        if self.session.changed:
            response.set_cookie(
                COOKIE,
                self.assets.session_codec(self.rt).dump(self.session),
                max_age=SIGN_IN_SECONDS,
                httponly=True,
                samesite="lax",
                secure=self.request.url.scheme == "https",
            )
        return response


def _local_path(request: Request) -> str:
    q = request.url.query
    return request.url.path + (f"?{q}" if q else "")


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths: a ``next`` of ``//evil.example`` or ``https://...`` would be an open redirect. It
    may end up in a header (``HX-Redirect``): one with a control character is refused (a browser drops a tab from
    ``/\t/evil.example`` and goes to ``//evil.example``; a line break would split the header), and other
    non-ASCII characters (a Chinese search text) are percent-encoded."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in target)
    ):
        return default
    return quote(target, safe="/?&=%#:@!$'()*+,;~-._")


def get_assets(request: Request) -> WebAssets:
    return request.app.state.web


def get_context(
    request: Request, rt: RuntimeDep, assets: Annotated[WebAssets, Depends(get_assets)]
) -> WebContext:
    return WebContext(request, rt, assets)


WebDep = Annotated[WebContext, Depends(get_context)]


class CsrfRejected(HTTPException):
    def __init__(self) -> None:
        super().__init__(
            403, "This form has expired or did not come from this site. Reload the page and try again."
        )


async def checked_form(request: Request, ctx: WebDep) -> FormData:
    """The posted form, once its CSRF token matches the session's (and its Origin, when sent, is this site)."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlparse(origin).netloc != request.headers.get("host", ""):
        raise CsrfRejected()
    form = await request.form()
    token = form.get("csrf_token") or request.headers.get("x-csrf-token")
    if not isinstance(token, str) or not ctx.session.csrf_matches(token):
        raise CsrfRejected()
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]
