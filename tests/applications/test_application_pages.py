"""The application form, its status page and the review queue, rendered through the ASGI app on a fresh database
with the three sample platforms."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import select

from api.app import create_app
from matcher import Runtime, create_platform_key
from matcher.applications.models import PlatformApplication
from matcher.platforms.models import Platform
from tests.applications.test_applications_api import SODIUM, province_key
from tests.applications.test_revisions import BATTERY
from tests.conftest import ADMIN_KEY, make_settings
from tests.web.test_web_pages import HTML, XSS, _sign_in, csrf_of

FORM = {k: v for k, v in SODIUM.items() if k not in ("directions", "service_types")} | {
    "directions": SODIUM["directions"],
    "service_types": SODIUM["service_types"],
    "area": SODIUM["area"],
    "province": "anhui",
}


def send(c: TestClient, fields: dict) -> object:
    token = csrf_of(c.get("/apply", headers=HTML).text)
    return c.post("/apply", data=fields | {"csrf_token": token}, headers=HTML, follow_redirects=False)


def stored(rt: Runtime) -> list[PlatformApplication]:
    with rt.session() as s:
        return list(s.exec(select(PlatformApplication)).all())


def test_an_applicant_applies_on_the_form_and_reads_the_key_once_after_approval(
    small_client: TestClient, small_runtime: Runtime
) -> None:
    applicant = TestClient(small_client.app)
    for lang in ("zh", "en"):
        applicant.cookies.set("pm_lang", lang)
        page = applicant.get("/apply", headers=HTML)
        assert page.status_code == 200
        for field_id in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', page.text):
            assert f'for="{field_id}"' in page.text, f"#{field_id} has no label"
        # An applicant may not ask for the tiers MIIT awards.
        assert 'value="national"' not in page.text and 'value="reserve"' in page.text

    # Every mistake at once, beside its field, and nothing stored.
    bad = send(
        applicant, FORM | {"name": "", "applicant_contact": "13800000000", "trl_min": "8", "trl_max": "2"}
    )
    assert bad.status_code == 422  # type: ignore[attr-defined]
    for name in ("name", "applicant_contact", "trl_min"):
        assert f'id="{name}-error"' in bad.text  # type: ignore[attr-defined]
    assert stored(small_runtime) == []

    sent = send(applicant, FORM | {"capabilities": SODIUM["capabilities"] + XSS})
    assert sent.status_code == 303  # type: ignore[attr-defined]
    link = sent.headers["location"].split("?")[0]  # type: ignore[attr-defined]
    status = applicant.get(sent.headers["location"], headers=HTML)  # type: ignore[attr-defined]
    assert (
        status.headers["cache-control"] == "no-store" and status.headers["referrer-policy"] == "no-referrer"
    )
    assert 'id="application-status"' in status.text and "link-copy" in status.text

    admin = TestClient(small_client.app)
    _sign_in(admin, ADMIN_KEY)
    queue = admin.get("/applications", headers=HTML)
    assert queue.status_code == 200 and SODIUM["applicant_contact"] in queue.text
    assert "<script>alert" not in queue.text  # the applicant's text is escaped
    (application,) = stored(small_runtime)
    approve = f"/applications/{application.id}/approve"
    done = admin.post(
        approve, data={"tier": "provincial", "csrf_token": csrf_of(queue.text)}, follow_redirects=False
    )
    assert done.status_code == 303 and "done=approved" in done.headers["location"]
    assert admin.post(approve, data={"csrf_token": csrf_of(queue.text)}, headers=HTML).status_code == 409

    # A plain GET (a link preview) never shows the key; the button does, once.
    page = applicant.get(link, headers=HTML).text
    assert 'id="show-key"' in page and "pm_platform_" not in page
    shown = applicant.post(f"{link}/key", data={"csrf_token": csrf_of(page)}, headers=HTML)
    key = re.search(r'id="platform-key">(pm_platform_[A-Za-z0-9_-]+)<', shown.text).group(1)  # type: ignore[union-attr]
    assert shown.headers["cache-control"] == "no-store"
    again = applicant.post(f"{link}/key", data={"csrf_token": csrf_of(page)}, headers=HTML).text
    assert key not in again and 'id="key-shown"' in again

    operator = _sign_in(TestClient(small_client.app), key)
    with small_runtime.session() as s:
        platform = s.exec(select(Platform).where(Platform.name == SODIUM["name"])).one()
    assert platform.tier == "provincial"
    assert operator.get(f"/platforms/{platform.id}/edit", headers=HTML).status_code == 200
    # An operator has no review queue.
    assert operator.get("/applications", headers=HTML).status_code == 404
    anonymous = TestClient(small_client.app).get("/applications", headers=HTML, follow_redirects=False)
    assert anonymous.headers["location"].startswith("/operator/sign-in")
    assert TestClient(small_client.app).get("/apply/not-a-token", headers=HTML).status_code == 404


def test_a_province_administrator_reviews_only_its_province_on_the_web(
    small_client: TestClient, small_runtime: Runtime
) -> None:
    applicant = TestClient(small_client.app)
    assert send(applicant, FORM).status_code == 303  # type: ignore[attr-defined]
    assert send(applicant, FORM | {"name": "江苏钠电中试平台", "province": "jiangsu"}).status_code == 303  # type: ignore[attr-defined]
    anhui, jiangsu = stored(small_runtime)
    key = province_key(small_client, "jiangsu")["Authorization"].removeprefix("Bearer ")
    js = _sign_in(TestClient(small_client.app), key)
    queue = js.get("/applications", headers=HTML).text
    assert f'id="application-{jiangsu.id}"' in queue and f'id="application-{anhui.id}"' not in queue
    assert 'value="national"' not in queue  # it grants reserve or provincial only
    token = csrf_of(queue)
    assert (
        js.post(f"/applications/{anhui.id}/approve", data={"csrf_token": token}, headers=HTML).status_code
        == 404
    )
    national = js.post(
        f"/applications/{jiangsu.id}/approve", data={"tier": "national", "csrf_token": token}, headers=HTML
    )
    assert national.status_code == 403 and f'id="refused-{jiangsu.id}"' in national.text
    blank = js.post(
        f"/applications/{jiangsu.id}/reject", data={"reason": " ", "csrf_token": token}, headers=HTML
    )
    assert blank.status_code == 422
    rejected = js.post(
        f"/applications/{jiangsu.id}/reject",
        data={"reason": "Please describe the pilot line.", "csrf_token": token},
        follow_redirects=False,
    )
    assert rejected.status_code == 303
    assert [a.status for a in stored(small_runtime)] == ["pending", "rejected"]


def test_an_operators_edit_sent_to_review_on_the_web_leaves_the_profile_and_links_the_review(
    small_client: TestClient, small_runtime: Runtime
) -> None:
    with small_runtime.session() as s:
        mine = s.exec(select(Platform).where(Platform.external_id == "s-hydrogen")).one()
    _, key = create_platform_key(small_runtime.db, mine.id)  # type: ignore[arg-type]
    operator = _sign_in(TestClient(small_client.app), key)
    form = operator.get(f"/platforms/{mine.id}/edit", headers=HTML).text
    fields = {
        "csrf_token": csrf_of(form),
        "name": mine.name,
        "area": mine.area,
        "province": mine.province or "",
        "capabilities": BATTERY,
        "directions": mine.directions,
        "service_types": mine.service_types,
        "active": "on",
    }
    held = operator.post(f"/platforms/{mine.id}/edit", data=fields, headers=HTML)
    assert held.status_code == 202 and 'id="held"' in held.text
    assert held.headers["cache-control"] == "no-store"
    review = re.search(r'href="(/apply/[A-Za-z0-9_-]+)"', held.text).group(1)  # type: ignore[union-attr]
    assert 'id="application-status"' in operator.get(review, headers=HTML).text
    with small_runtime.session() as s:
        assert s.get(Platform, mine.id).capabilities == mine.capabilities  # type: ignore[union-attr]
    assert 'id="waiting"' in operator.get(f"/platforms/{mine.id}/edit", headers=HTML).text
    again = operator.post(f"/platforms/{mine.id}/edit", data=fields, headers=HTML)
    assert again.status_code == 422 and 'id="capabilities-error"' in again.text


def test_correcting_the_form_costs_no_application_of_the_rate_limit(tmp_path: Path) -> None:
    rt = Runtime.open(make_settings(tmp_path, application_rate_limit=1))
    try:
        with TestClient(create_app(runtime=rt)) as c:
            for _ in range(3):  # three mistakes, each shown again
                assert send(c, FORM | {"name": ""}).status_code == 422  # type: ignore[attr-defined]
            assert send(c, FORM).status_code == 303  # type: ignore[attr-defined]
            assert send(c, FORM | {"name": "第二个平台"}).status_code == 429  # type: ignore[attr-defined]
        assert len(stored(rt)) == 1
    finally:
        rt.close()
