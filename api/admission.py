"""Match admission over HTTP: who the client is, its rate limit, a slot in the match gate, and the 429 / 503
problem+json (with ``Retry-After``) when either refuses.

Routes that run a match declare one dependency and nothing else changes in them:

* ``ApiMatchAdmissionDep``: ``POST /v1/match`` and ``GET /v1/technologies/{id}/matches``. Anonymous callers
  are limited per address (``match_rate_limit`` a minute); a caller with a valid ``Authorization: Bearer`` key
  per key (``keyed_match_rate_limit``); an invalid key is refused with 401 rather than silently served as
  anonymous.
* ``MatchSlotDep``: a slot only, for writes that match (``POST /v1/technologies``, already behind a key).
* ``ManyMatchesSlotDep``: a run of many matches (``POST /v1/assignments`` and its page) holds one long-lane slot
  throughout, outside the lane's pace.
* ``PageMatchAdmissionDep``: pages that run a match (the search page with a text, a submission, a private
  link), limited per address.
* ``SubmissionLimitDep``: a submission without a key (``POST /v1/submissions``, the web form) also spends a
  token of the address's ``submission_rate_limit``: each stores a technology.
* ``ApplicationLimitDep``: an application to join (``POST /v1/platform-applications``, the web form) spends a
  token of the address's ``application_rate_limit``: each is a row an administrator must review.

The dependencies run on the event loop before the (synchronous) route, so a request waiting for a slot holds no
thread of the pool other requests need; the slot is held while the route runs and given back when it returns.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from api.problems import problem
from matcher import Settings, authenticate
from matcher.admission import MatchGate, Overloaded, RateLimited, RateLimiter


class Admission:
    """The limiters and the gate of one app (``app.state.admission``), built from its settings."""

    def __init__(self, settings: Settings) -> None:
        self.anonymous = RateLimiter(settings.match_rate_limit)
        self.keyed = RateLimiter(settings.keyed_match_rate_limit)
        self.submissions = RateLimiter(settings.submission_rate_limit, "submissions")
        self.applications = RateLimiter(settings.application_rate_limit, "applications to join")
        self.gate = MatchGate(settings.match_concurrency, settings.match_queue)


def client_address(request: Request) -> str:
    """The peer address the connection came from. ``X-Forwarded-For`` is not trusted: anyone can send it. An
    IPv6 client counts as its /64, the block one subscriber usually holds, so it cannot rotate addresses."""
    host = request.client.host if request.client else "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _bearer(request: Request) -> str | None:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    return key.strip() or None if scheme.lower() == "bearer" else None


def retry_after(seconds: float) -> str:
    """``Retry-After`` in whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


async def _refused(request: Request, exc: Exception) -> Response:
    """429 or 503 with ``Retry-After``: problem+json for the API, the error page for a page."""
    assert isinstance(exc, RateLimited | Overloaded)
    status = 429 if isinstance(exc, RateLimited) else 503
    pages = getattr(request.app.state, "html_error", None)
    if pages is not None and pages.wants_html(request):
        response = await run_in_threadpool(pages.render, request, status, exc.detail)
    else:
        response = problem(status, exc.detail, exc.title, instance=request.url.path)
    response.headers["Retry-After"] = retry_after(exc.retry_after)
    return response


def install_admission(app: FastAPI, settings: Settings) -> Admission:
    """Give ``app`` its limiters and gate, and the answers to their refusals."""
    app.state.admission = Admission(settings)
    app.add_exception_handler(RateLimited, _refused)
    app.add_exception_handler(Overloaded, _refused)
    return app.state.admission


async def _take_token(request: Request, admission: Admission, *, keyed: bool) -> None:
    key = _bearer(request) if keyed else None
    if keyed and key is None and "authorization" in request.headers:
        raise HTTPException(401, "Send the API key as 'Authorization: Bearer <key>'.")
    if key is None:
        if admission.anonymous.enabled:
            admission.anonymous.take(f"ip:{client_address(request)}")
        return
    rt = request.app.state.runtime
    principal = await run_in_threadpool(authenticate, rt.db, rt.settings, key)
    if principal is None:
        raise HTTPException(401, "The API key is not valid (unknown or revoked).")
    admission.keyed.take(f"key:{principal.key_id}" if principal.key_id is not None else "key:admin")


async def _api_match(request: Request) -> AsyncIterator[None]:
    admission: Admission = request.app.state.admission
    await _take_token(request, admission, keyed=True)
    with await admission.gate.admit(await _cost(request, admission)):
        yield


async def _cost(request: Request, admission: Admission) -> int:
    """What a request asks the gate for. FastAPI has read the body before dependencies run, so this is the cached
    copy: its size is the cost, whether or not the client sent Content-Length. A GET re-ranks a stored text of
    unknown length (up to 20,000 characters): it takes the long lane rather than starve short searches."""
    if request.method == "GET":
        return admission.gate.long_cost + 1
    return len(await request.body()) + len(request.url.query)


async def _write_slot(request: Request) -> AsyncIterator[None]:
    """Writes that embed text (a new or edited profile or technology) cost what a match of that text costs: they
    take a slot in the gate and a token of the caller's key, so a platform key's edits cannot crowd out searches."""
    admission: Admission = request.app.state.admission
    await _take_token(request, admission, keyed=True)
    with await admission.gate.admit(await _cost(request, admission)):
        yield


async def _page_match(request: Request) -> AsyncIterator[None]:
    if request.method == "GET" and request.url.path == "/" and not request.query_params.get("text"):
        yield  # the empty search form: nothing is matched
        return
    admission: Admission = request.app.state.admission
    await _take_token(request, admission, keyed=False)
    # A form's body is read by the page's own form parser; its declared length is the cost (none: the long lane).
    # A private link re-ranks a stored text of unknown length: the long lane.
    length = request.headers.get("content-length", "0" if request.method == "GET" else "")
    cost = int(length) if length.isdigit() else admission.gate.long_cost + 1
    if request.url.path.startswith("/t/"):
        cost = admission.gate.long_cost + 1
    with await admission.gate.admit(cost + len(request.url.query)):
        yield


ApiMatchAdmissionDep = Annotated[None, Depends(_api_match, scope="function")]
MatchSlotDep = Annotated[None, Depends(_write_slot, scope="function")]
PageMatchAdmissionDep = Annotated[None, Depends(_page_match, scope="function")]


async def _many_matches(request: Request) -> AsyncIterator[None]:
    """Work that matches many stored technologies one after another (a programme's assignment, up to 1,000): one
    token of the caller's key (or address), and one slot in the long lane for the whole run, so a short search
    never waits behind it; the run's length is kept out of the lane's pace."""
    admission: Admission = request.app.state.admission
    await _take_token(request, admission, keyed=True)
    with (await admission.gate.admit(admission.gate.long_cost + 1)).unmeasured():
        yield


ManyMatchesSlotDep = Annotated[None, Depends(_many_matches, scope="function")]


def _submission(request: Request) -> None:
    """A researcher's submission without a key stores a technology: it also spends one of the address's
    ``submission_rate_limit`` tokens (before the match admission, so a refused one costs no match)."""
    admission: Admission = request.app.state.admission
    if admission.submissions.enabled:
        admission.submissions.take(f"ip:{client_address(request)}")


SubmissionLimitDep = Annotated[None, Depends(_submission)]


def spend_application_token(request: Request) -> None:
    """An application to join without a key is stored for an administrator to read: one of the address's
    ``application_rate_limit`` tokens each. The web form spends it only once the form is valid, so correcting a
    mistake costs nothing."""
    admission: Admission = request.app.state.admission
    if admission.applications.enabled:
        admission.applications.take(f"ip:{client_address(request)}")


ApplicationLimitDep = Annotated[None, Depends(spend_application_token)]
