"""A province administrator on the web: signs in with the province key and sees the administrator's pages for its
own province only (other provinces' platform pages are 404), with the tiers it may give."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from matcher import Runtime, TechnologyCreate, create_technology
from matcher.platforms.models import Platform
from tests.accounts.test_province_keys import ANTIBODY_TEXT, issue_key, platform_ids
from tests.web.test_web_pages import HTML, _sign_in, csrf_of


def _options(html: str, select_id: str) -> list[str]:
    found = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', html, re.S)
    assert found, f"no select #{select_id}"
    return re.findall(r'<option value="([^"]*)"', found.group(1))


def _listed(html: str) -> set[int]:
    return {int(i) for i in re.findall(r'<h3><a href="/platforms/(\d+)">', html)}


def _form(platform: Platform, page: str, **changes: str) -> dict:
    return {
        "csrf_token": csrf_of(page),
        "name": platform.name,
        "area": platform.area,
        "province": platform.province or "",
        "capabilities": platform.capabilities,
        "directions": platform.directions,
        "service_types": platform.service_types,
        "active": "on",
        "tier": platform.tier,
    } | changes


def test_a_province_administrator_reviews_only_its_province_on_the_web(
    small_client: TestClient, small_runtime: Runtime
) -> None:
    c, ids = small_client, platform_ids(small_runtime)
    c.cookies.set("pm_lang", "en")
    with small_runtime.session() as s:
        hydrogen, antibody = s.get(Platform, ids["guangdong"]), s.get(Platform, ids["jiangsu"])
    assert hydrogen is not None and antibody is not None
    for province, contact in (("jiangsu", "js-lab@example.cn"), ("guangdong", "gd-lab@example.cn")):
        item = TechnologyCreate(summary=ANTIBODY_TEXT, preferred_provinces=[province], contact=contact)
        create_technology(small_runtime.db, small_runtime.engine, small_runtime.settings, item)

    # Guangdong's administrator: its platform list, its platform; a network tier it may not change.
    _, gd = issue_key(c, province="guangdong")
    _sign_in(c, gd["Authorization"].removeprefix("Bearer "))
    assert c.get("/operator", follow_redirects=False).headers["location"] == "/platforms"
    directory = c.get("/platforms?province=jiangsu", headers=HTML).text
    assert _listed(directory) == {hydrogen.id}  # whatever province was asked
    assert "Province administrator · Guangdong" in directory
    assert _options(directory, "province") == ["guangdong"]
    assert c.get(f"/platforms/{antibody.id}/edit", headers=HTML).status_code == 404
    assert c.get(f"/platforms/{antibody.id}/inbox", headers=HTML).status_code == 404
    assert f"/platforms/{antibody.id}/edit" not in c.get(f"/platforms/{antibody.id}", headers=HTML).text
    page = c.get(f"/platforms/{hydrogen.id}/edit", headers=HTML).text
    assert 'id="tier" disabled' in page and "a province administrator cannot change them" in page
    assert _options(page, "province") == ["guangdong"]
    saved = c.post(
        f"/platforms/{hydrogen.id}/edit", data=_form(hydrogen, page, capacity="4"), follow_redirects=False
    )
    assert saved.status_code == 303
    with small_runtime.session() as s:
        assert (s.get(Platform, hydrogen.id).tier, s.get(Platform, hydrogen.id).capacity) == (
            "key_cultivated",
            4,
        )  # type: ignore[union-attr]
    assert c.get("/coverage/cell?direction=biomedicine&province=jiangsu", headers=HTML).status_code == 404

    # Jiangsu's administrator: the tiers reserve and provincial; its province's reports and contacts.
    _, js = issue_key(c)
    _sign_in(c, js["Authorization"].removeprefix("Bearer "))
    assert c.get(f"/platforms/{hydrogen.id}/edit", headers=HTML).status_code == 404
    page = c.get(f"/platforms/{antibody.id}/edit", headers=HTML).text
    assert _options(page, "tier") == ["provincial", "reserve"]
    forged = c.post(
        f"/platforms/{antibody.id}/edit", data=_form(antibody, page, tier="national"), headers=HTML
    )
    assert forged.status_code == 422 and 'id="tier-error"' in forged.text
    with small_runtime.session() as s:
        assert s.get(Platform, antibody.id).tier == "provincial"  # type: ignore[union-attr]
    fits = c.get(f"/platforms/{antibody.id}", headers=HTML).text
    assert 'id="fits-title"' in fits and "js-lab@example.cn" in fits and "gd-lab@example.cn" not in fits
    activity = c.get("/reports/activity", headers=HTML)
    assert activity.status_code == 200 and _options(activity.text, "province") == ["jiangsu"]
    assert antibody.name in activity.text and hydrogen.name not in activity.text
    coverage = c.get("/coverage", headers=HTML).text
    assert 'id="province-scope"' in coverage and "province=jiangsu" in coverage
