"""The funnel and activity pages show what the API answers, in both languages, linked from /coverage; the
activity page is the signed-in administrator's alone. The loop is described in tests/reports/conftest.py."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from tests.conftest import ADMIN_KEY, AUTH
from tests.reports.conftest import CONTACTS, Loop
from tests.web.test_web_pages import HTML, csrf_of

#: The pages call the functions the API routes call; the API tests run them on both databases.
pytestmark = pytest.mark.backend_independent


def _signed_in(api: TestClient, key: str) -> dict[str, str]:
    """A session cookie for ``key``, kept out of the shared client's cookie jar."""
    api.cookies.clear()
    token = csrf_of(api.get("/operator/sign-in", headers=HTML).text)
    r = api.post("/operator/sign-in", data={"key": key, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text[:300]
    cookies = dict(api.cookies)
    api.cookies.clear()
    return cookies


def _get(api: TestClient, url: str, cookies: dict[str, str] | None = None, **kwargs: object) -> Response:
    """``url`` with exactly these cookies (the shared client keeps none between requests)."""
    api.cookies.clear()
    api.cookies.update(cookies or {})
    try:
        return api.get(url, **kwargs)  # type: ignore[arg-type]
    finally:
        api.cookies.clear()


def test_funnel_page_draws_the_api_counts_in_both_languages(loop: Loop) -> None:
    api = loop.api
    coverage = api.get("/coverage", headers=HTML).text
    assert 'href="/reports/funnel"' in coverage and 'href="/reports/activity"' in coverage
    counts = [s["count"] for s in api.get("/v1/reports/funnel", params={"tier": "national"}).json()["stages"]]
    for lang, word in (("zh", "对接漏斗"), ("en", "the funnel")):
        page = _get(api, "/reports/funnel?tier=national", {"pm_lang": lang}, headers=HTML)
        assert page.status_code == 200 and word in page.text
        shown = [int(n) for n in re.findall(r'<span class="num">(\d+)</span>', page.text)]
        assert shown == counts
        assert '<option value="national" selected>' in page.text
        assert "format=csv" in page.text and all(c not in page.text for c in CONTACTS)
    bad = api.get("/reports/funnel?tier=gold&since=2020-01-11", headers=HTML)
    assert bad.status_code == 422 and 'id="tier-error"' in bad.text and 'aria-invalid="true"' in bad.text


def test_activity_page_is_the_administrators_and_sorts_by_response_rate(loop: Loop) -> None:
    api = loop.api
    gone = _get(api, "/reports/activity", headers=HTML, follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"].startswith("/operator/sign-in?next=")
    operator = _signed_in(api, loop.keys["H"]["Authorization"].removeprefix("Bearer "))
    assert _get(api, "/reports/activity", operator, headers=HTML).status_code == 404
    assert _get(api, "/reports/activity?format=json", operator).status_code == 404

    admin = _signed_in(api, ADMIN_KEY)
    for lang in ("zh", "en"):
        page = _get(api, "/reports/activity?sort=response_rate", admin | {"pm_lang": lang}, headers=HTML)
        assert page.status_code == 200, page.text[:300]
        order = [int(i) for i in re.findall(r'<a href="/platforms/(\d+)">', page.text)]
        assert order == [loop.platforms[p] for p in "SAH"]
        assert 'aria-sort="ascending"' in page.text and "sort=-response_rate" in page.text
        assert all(c not in page.text for c in CONTACTS)
    twin = _get(api, "/reports/activity?format=json&dormant=true", admin).json()
    api_twin = api.get("/v1/reports/platform-activity?dormant=true", headers=AUTH).json()
    assert twin | {"generated_at": None} == api_twin | {"generated_at": None}
    csv_twin = _get(api, "/reports/activity?format=csv", admin)
    assert csv_twin.text == api.get("/v1/reports/platform-activity?format=csv", headers=AUTH).text
