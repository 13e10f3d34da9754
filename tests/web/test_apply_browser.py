"""Applying to join in a real browser (Playwright, Debian's Chromium) against a live `pilotmatch serve` on a fresh
database with the three sample platforms: a platform applies on the web form, the province's administrator sees
only its province's applications and approves it in the review queue, and the applicant opens the status page,
copies the key shown once and signs in with it to its new platform.

With PILOTMATCH_SCREENSHOT_DIR set (``make screenshots``) the form and the queue are kept as screenshots.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from matcher import Runtime, create_platforms
from tests.conftest import AUTH, SAMPLE_PLATFORMS, make_settings
from tests.live import free_port, serve
from tests.web import test_web_browser as web

#: What a browser sees does not depend on the database backend: these run once, on SQLite.
pytestmark = pytest.mark.backend_independent

browser = web.browser  # the module's Chromium, as the other browser tests start it

JIANGSU = {
    "name": "江苏钠离子电池材料中试平台",
    "capabilities": "钠离子电池层状氧化物正极材料公斤级到百公斤级中试，共沉淀与固相烧结工艺放大，软包电池评测。",
    "applicant_contact": "wang@example.cn",
}
ANHUI_NAME = "安徽固态电解质中试平台"


@pytest.fixture(scope="module")
def apply_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A live server on a fresh database with the sample platforms; yields its base URL and the screenshot
    folder."""
    folder = tmp_path_factory.mktemp("apply-web")
    settings = make_settings(folder)
    rt = Runtime.open(settings)
    try:
        create_platforms(rt.db, rt.engine, rt.settings, SAMPLE_PLATFORMS)
    finally:
        rt.close()
    shots = Path(os.environ.get("PILOTMATCH_SCREENSHOT_DIR") or folder / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = serve(folder, port, settings.database_url, {"PILOTMATCH_APPLICATION_RATE_LIMIT": "0"})
    try:
        yield f"http://127.0.0.1:{port}", shots
    finally:
        server.terminate()
        server.wait(timeout=30)


def fill_application(page: Page, name: str, province: str, capabilities: str, contact: str) -> None:
    page.goto("/operator/sign-in")
    page.click("#apply-link")
    page.fill("#name", name)
    page.select_option("#area", "emerging_future")
    page.select_option("#province", province)
    page.select_option("#directions", "new_energy_storage")
    page.check("input[name=service_types][value=process]")
    page.fill("#trl_min", "4")
    page.fill("#trl_max", "7")
    page.fill("#capabilities", capabilities)
    page.fill("#applicant_contact", contact)


def test_a_platform_applies_a_province_administrator_approves_and_the_applicant_signs_in_with_the_key(
    browser: Browser, apply_site: tuple[str, Path]
) -> None:
    base, shots = apply_site
    size = {"width": 1280, "height": 900}
    applicant = browser.new_context(viewport=size, base_url=base).new_page()
    reviewer = browser.new_context(viewport=size, base_url=base).new_page()

    # Another province's application, which the Jiangsu administrator must not see.
    fill_application(
        applicant, ANHUI_NAME, "anhui", "硫化物固态电解质公斤级合成与干法电极中试。", "li@example.cn"
    )
    applicant.click("#application-form button[type=submit]")
    expect(applicant).to_have_url(re.compile(r"/apply/[A-Za-z0-9_-]+\?new=1$"))

    # The Jiangsu platform applies; a missing contact is shown beside its field first.
    fill_application(applicant, JIANGSU["name"], "jiangsu", JIANGSU["capabilities"], "")
    applicant.evaluate("window.scrollTo(0, 0)")
    applicant.screenshot(path=str(shots / "apply-form.png"))
    applicant.click("#application-form button[type=submit]")
    expect(applicant.locator("#applicant_contact-error")).to_be_visible()
    applicant.fill("#applicant_contact", JIANGSU["applicant_contact"])
    applicant.click("#application-form button[type=submit]")
    expect(applicant).to_have_url(re.compile(r"/apply/[A-Za-z0-9_-]+\?new=1$"))
    expect(applicant.locator("#application-status")).to_have_text("待审核")
    status_page = applicant.url.split("?")[0]

    # Jiangsu's administrator signs in with a province key and sees its province's application only.
    body = {"scope": "province", "province": "jiangsu", "label": "江苏省工信厅"}
    province_key = httpx.post(f"{base}/v1/admin-keys", json=body, headers=AUTH).json()["key"]
    reviewer.goto("/operator/sign-in?next=/applications")
    reviewer.fill("#key", province_key)
    reviewer.click("form.card button[type=submit]")
    expect(reviewer.locator("a[href='/applications']")).to_have_attribute("aria-current", "page")
    card = reviewer.locator("article.application", has_text=JIANGSU["name"])
    expect(card).to_be_visible()
    expect(reviewer.locator("main")).not_to_contain_text(ANHUI_NAME)
    expect(card.locator("select[name=tier] option[value=national]")).to_have_count(0)
    reviewer.screenshot(path=str(shots / "review-queue.png"))
    card.locator("select[name=tier]").select_option("provincial")
    card.locator("form.approve button[type=submit]").click()
    expect(reviewer.locator("#review-done")).to_be_visible()

    # The applicant comes back, presses the button, copies the key and signs in with it.
    applicant.goto(status_page)
    expect(applicant.locator("#application-status")).to_have_text("已通过")
    applicant.click("#show-key")
    key = applicant.locator("#platform-key").inner_text().strip()
    assert key.startswith("pm_platform_")
    applicant.goto(status_page)  # the key is never shown again
    expect(applicant.locator("#platform-key")).to_have_count(0)
    applicant.goto("/operator/sign-in")
    applicant.fill("#key", key)
    applicant.click("form.card button[type=submit]")
    expect(applicant).to_have_url(re.compile(r"/platforms/\d+$"))
    expect(applicant.locator("h1")).to_have_text(JIANGSU["name"])
    expect(applicant.locator(".badge.tier-provincial")).to_be_visible()
