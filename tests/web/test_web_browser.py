"""The web app in a real browser: Playwright drives Debian's Chromium against a live `pilotmatch serve` with the
demo data on 127.0.0.1.

Set PILOTMATCH_SCREENSHOT_DIR (``make screenshots`` sets docs/screenshots) to keep the screenshots of the main
pages; otherwise they go to a temporary folder.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlmodel import select

from matcher import Runtime, create_platform_key
from matcher.platforms.models import Platform
from tests.conftest import ADMIN_KEY, AUTH, copy_demo, make_settings
from tests.live import free_port, serve

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ZH_MACHINING = (
    "我们为离心压缩机不锈钢整体叶轮开发了插铣粗加工加侧铣精加工的组合刀路和专用夹具，在一台进口五轴机床上加工时间缩短了40%。"
    "希望在国产五轴加工中心上做对比加工，验证刀路可移植性、叶片轮廓精度和表面质量。"
)
EN_ENZYME = (
    "Our engineered PET hydrolase depolymerises 90% of post-consumer PET flakes in 10 hours at 72 °C. We need "
    "high-density fermentation to produce enzyme at kilogram scale and a pilot depolymerisation run in a 1 m3 "
    "stirred reactor."
)
#: A need no demo platform can pilot: unmet demand.
EN_TILAPIA = (
    "We bred a tilapia line resistant to streptococcal disease by marker-assisted selection over four "
    "generations. We now need pond trials with farmers across two seasons to confirm growth and survival."
)
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

#: What a browser sees does not depend on the database backend: these run once, on SQLite.
pytestmark = pytest.mark.backend_independent


class Site:
    def __init__(self, base: str, operator_key: str, platform: Platform, shots: Path) -> None:
        self.base, self.operator_key, self.platform, self.shots = base, operator_key, platform, shots

    def shot(self, page: Page, name: str) -> None:
        page.screenshot(path=str(self.shots / f"{name}.png"), full_page=False)


@pytest.fixture(scope="module")
def site(demo_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A live server on a copy of the demo (the browser's own writes stay there)."""
    folder = tmp_path_factory.mktemp("web")
    copy_demo(demo_runtime, folder)
    settings = make_settings(folder)
    rt = Runtime.open(settings)
    try:
        with rt.session() as s:
            platform = s.exec(
                select(Platform).where(Platform.name == "高档数控机床五轴联动加工验证中试平台")
            ).one()
        _, key = create_platform_key(rt.db, platform.id)  # type: ignore[arg-type]
    finally:
        rt.close()
    shots = Path(os.environ.get("PILOTMATCH_SCREENSHOT_DIR") or folder / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = serve(folder, port, settings.database_url)
    try:
        yield Site(f"http://127.0.0.1:{port}", key, platform, shots)
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "Chromium is missing: run scripts/ensure-system-packages.sh"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP, base_url=site.base)
    pg = context.new_page()
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    yield pg
    context.close()
    assert dialogs == [], f"a script ran: {dialogs}"


def search(page: Page, text: str) -> None:
    """Type a search and run it; on a results page the folded search is opened first ("edit")."""
    folded = page.locator("#find details.edit-search:not([open]) > summary")
    if folded.count():
        folded.click()
    page.fill("#text", text)
    # Wait for the new document, not only its response: reading before it commits reads the previous results.
    with page.expect_navigation(url=lambda u: "text=" in u):
        page.click("#find button[type=submit]")
    expect(page.locator("#results ol.results > li").first).to_be_visible()


def first_result(page: Page) -> str:
    return page.locator("#results ol.results > li h3").first.inner_text().strip()


def test_chinese_and_english_summaries_put_the_expected_platform_first(page: Page, site: Site) -> None:
    page.goto("/")
    search(page, ZH_MACHINING)
    assert first_result(page) == "高档数控机床五轴联动加工验证中试平台"
    assert "text=" in page.url  # the search is in the address: a result page can be shared and reloaded
    expect(page.locator("#results mark").first).to_be_visible()
    expect(page.locator("#results .factors").first).to_be_visible()
    site.shot(page, "find-zh")
    search(page, EN_ENZYME)
    assert first_result(page) == "酶制剂与生物催化中试平台"


def test_language_switch_is_remembered(page: Page, site: Site) -> None:
    page.goto("/")
    expect(page.locator("h1")).to_have_text("为您的技术找中试平台")
    page.click("#lang-switch")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Find pilot-test platforms for your technology")
    page.goto("/platforms")
    expect(page.locator("h1")).to_have_text("Platform directory")
    search_page = page.goto("/?text=" + EN_ENZYME)
    assert search_page is not None and search_page.ok
    site.shot(page, "find-en")
    page.click("#lang-switch")
    expect(page.locator("h1")).to_have_text("为您的技术找中试平台")
    assert "text=" in page.url  # switching language keeps the page (and its search)


def test_filters_refine_without_losing_the_text(page: Page) -> None:
    page.goto("/")
    search(page, ZH_MACHINING)
    page.click("#find .refine-box > summary")  # the filters fold away once there are results
    with page.expect_navigation(url=lambda u: "tier=national" in u):
        page.check("#refine input[name=tier][value=national]")
    expect(page.locator("#results .badge.tier-national").first).to_be_visible()
    badges = page.locator("#results ol.results > li .badge").all_inner_texts()
    assert badges and set(badges) == {"国家级制造业中试平台"}
    expect(page.locator("#text")).to_have_value(ZH_MACHINING)
    assert "tier=national" in page.url


def test_directory_filters_and_pages(page: Page, site: Site) -> None:
    page.goto("/platforms")
    first = page.locator("ul.platforms > li h3").first.inner_text()
    page.click("a[rel=next]")
    assert page.locator("ul.platforms > li h3").first.inner_text() != first
    page.goto("/platforms")
    with page.expect_navigation(url=lambda u: "tier=national" in u):
        page.select_option("#tier", "national")
    expect(page.locator("ul.platforms > li").first).to_be_visible()
    assert set(page.locator("ul.platforms .badge").all_inner_texts()) == {"国家级制造业中试平台"}
    site.shot(page, "directory")


def test_operator_signs_in_sees_an_error_fixes_it_and_it_is_saved(page: Page, site: Site) -> None:
    pid = site.platform.id
    page.goto("/operator/sign-in")
    page.fill("#key", "pm_platform_not-a-key")
    page.click("form.card button[type=submit]")
    expect(page.locator("#key-error")).to_be_visible()
    page.fill("#key", site.operator_key)
    page.click("form.card button[type=submit]")
    expect(page).to_have_url(re.compile(f"/platforms/{pid}$"))
    expect(page.locator("#fits-title")).to_be_visible()  # the technologies that fit, for its operator only
    page.click(f"a[href='/platforms/{pid}/edit']")
    page.fill("#trl_min", "8")
    page.fill("#trl_max", "3")
    page.click("form.card button[type=submit]")
    expect(page.locator("#trl_min-error")).to_contain_text("TRL 须为 1 到 9")
    expect(page.locator("#trl_min")).to_have_attribute("aria-invalid", "true")
    site.shot(page, "operator-edit-error")
    page.fill("#trl_min", "3")
    page.fill("#trl_max", "8")
    page.fill("#city", "沈阳")
    page.click("form.card button[type=submit]")
    expect(page.locator("#saved")).to_be_visible()
    expect(page.locator("#city")).to_have_value("沈阳")
    expect(page.locator("#trl_min")).to_have_value("3")
    # Another platform is not theirs: its edit page does not exist for them.
    other = page.goto(f"/platforms/{pid + 1}/edit")
    assert other is not None and other.status == 404


def test_a_province_administrator_signs_in_and_reviews_only_its_province(page: Page, site: Site) -> None:
    issued = httpx.post(
        f"{site.base}/v1/admin-keys",
        json={"scope": "province", "province": "海南", "label": "Hainan industry department"},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert issued.status_code == 201, issued.text
    page.goto("/operator/sign-in")
    page.fill("#key", issued.json()["key"])
    page.click("form.card button[type=submit]")
    expect(page).to_have_url(re.compile(r"/platforms$"))
    expect(page.locator("#nav-role")).to_have_text("省级管理员 · 海南")
    cards = page.locator("ul.platforms > li")
    expect(cards).to_have_count(4)  # the demo's four active platforms in Hainan, and nothing else
    assert all("海南" in text for text in cards.all_inner_texts())
    site.shot(page, "province-admin-directory")
    cards.first.locator("h3 a").click()
    page.click("a.button[href$='/edit']")
    expect(page.locator("#tier option")).to_have_count(2)  # reserve and provincial (or none: a network tier)
    # Another province's platform is not its to run: its edit page does not exist for it.
    other = page.goto(f"/platforms/{site.platform.id}/edit")
    assert other is not None and other.status == 404


def test_coverage_shows_a_known_gap_and_its_cell(page: Page, site: Site) -> None:
    title = "Atomic-oxygen resistant coating for LEO satellite solar array films"
    page.goto("/coverage")
    expect(page.locator("section[aria-labelledby=unmet-title]")).to_contain_text(title)
    site.shot(page, "coverage")
    report = httpx.get(f"{site.base}/v1/reports/coverage").json()
    gap = next(u for u in report["unmet_demand"] if u["title"] == title)
    direction, province = gap["directions"][0], (gap["provinces"] or ["unspecified"])[0]
    page.locator(f"table.heat a[href*='direction={direction}'][href*='province={province}']").click()
    expect(page.locator("h1")).to_be_visible()
    expect(page.locator("main")).to_contain_text(title)


def test_a_summary_with_script_is_shown_as_text_and_never_run(page: Page) -> None:
    payload = '<script>alert("xss")</script><img src=x onerror=alert(2)> 五轴机床叶轮加工验证'
    page.goto("/")
    search(page, payload)
    expect(page.locator("#text")).to_have_value(payload)
    page.fill("#title", payload)
    page.fill("#contact", "lab@example.edu.cn")
    page.click("#submit-technology button[type=submit]")
    expect(page).to_have_url(re.compile(r"/t/[A-Za-z0-9_-]+\?new=1$"))
    expect(page.locator("h1")).to_have_text(payload)  # shown literally
    assert page.locator("main script, main img[src=x]").count() == 0
    # The page fixture fails the test if any alert() ran.


def test_keyboard_and_phone_width(browser: Browser, site: Site) -> None:
    context = browser.new_context(viewport=PHONE, base_url=site.base)
    page = context.new_page()
    try:
        page.goto("/")
        page.keyboard.press("Tab")
        expect(page.locator("a.skip")).to_be_focused()
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none", "focus must be visible"
        search(page, ZH_MACHINING)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 392, f"the page scrolls sideways on a phone ({width}px)"
        site.shot(page, "find-phone")
    finally:
        context.close()


def _first_card_on_screen(page: Page, viewport: dict[str, int]) -> None:
    box = page.locator("#results ol.results > li").first.bounding_box()
    assert box is not None
    assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"], (
        f"the first result ({box['y']:.0f} to {box['y'] + box['height']:.0f}px) is not all on the first "
        f"{viewport['height']}px"
    )


def test_the_first_result_is_on_the_first_screen_of_a_desktop_and_a_phone(
    browser: Browser, site: Site
) -> None:
    """Once there are results the search folds to one row, so the whole first card shows without scrolling;
    "edit" opens the search again with its text."""
    for viewport in (DESKTOP, PHONE):
        context = browser.new_context(viewport=viewport, base_url=site.base)
        page = context.new_page()
        try:
            for lang, text in (("zh", ZH_MACHINING), ("en", EN_ENZYME)):
                page.goto(f"/lang/{lang}?next=/")
                search(page, text)
                expect(page.locator("#text")).to_be_hidden()
                _first_card_on_screen(page, viewport)
            page.click("#find .edit-search > summary")
            expect(page.locator("#text")).to_be_visible()
            expect(page.locator("#text")).to_have_value(EN_ENZYME)
        finally:
            context.close()


def test_a_need_nothing_fits_is_called_unmet_demand_with_its_coverage_cell(page: Page, site: Site) -> None:
    page.goto("/lang/en?next=/")
    search(page, EN_TILAPIA)
    notice = page.locator("#unmet-demand")
    expect(notice).to_contain_text("No platform fits this technology well.")
    expect(notice).to_contain_text("count as unmet demand in the network coverage report")
    _first_card_on_screen(page, DESKTOP)  # the verdict sits above the results, not instead of them
    site.shot(page, "find-unmet")
    inferred = page.locator("p.inferred .chip").first.inner_text()
    notice.locator("a").click()
    expect(page).to_have_url(re.compile(r"/coverage/cell\?direction=\w+&province=unspecified$"))
    expect(page.locator("h1")).to_contain_text(inferred.rsplit(" ", 1)[0])


def test_fit_labels_carry_their_meaning_and_weak_fits_come_on_request(page: Page) -> None:
    """No factor bar for calibration: the fit badge says what the label means; weak fits after the first
    three come with "show weaker fits too", which keeps the search."""
    page.goto("/lang/en?next=/")
    search(page, ZH_MACHINING)
    rows = page.locator("#results .factor-table th").all_inner_texts()
    assert rows and "Calibration" not in rows
    badge = page.locator("#results ol.results > li .fit").first
    assert "at least 85% of the time" in (badge.get_attribute("title") or "")
    expect(page.locator("#fit-meaning-good")).to_be_visible()
    shown = page.locator("#results ol.results > li").count()
    with page.expect_navigation(url=lambda u: "include_weak=1" in u):
        page.click("#show-weak")
    expect(page.locator("#results ol.results > li").nth(shown)).to_be_visible()
    expect(page.locator("#results ol.results > li .fit").last).to_have_class(re.compile("fit-weak"))
    expect(page.locator("#show-weak")).to_have_count(0)
    expect(page.locator("#text")).to_have_value(ZH_MACHINING)


def sign_in_with(page: Page, key: str) -> None:
    page.goto("/operator/sign-in")
    page.fill("#key", key)
    page.click("form.card button[type=submit]")
    expect(page).not_to_have_url(re.compile("/operator/sign-in"))


def test_the_admin_runs_an_assignment_reads_it_and_notifies_and_an_operator_has_no_such_page(
    page: Page, site: Site, browser: Browser
) -> None:
    """Last in this module: it writes a run and notifications to the site's copy of the demo."""
    sign_in_with(page, ADMIN_KEY)
    page.click("nav a[href='/assignments']")
    page.select_option("#per_technology", "2")
    page.fill("#min_score", "0.5")
    page.fill("#max_per_platform", "1")
    with page.expect_navigation(url=re.compile(r"/assignments/\d+$")):
        page.click("#assign-form button[type=submit]")

    run_id = int(page.url.rsplit("/", 1)[1])
    run = httpx.get(f"{site.base}/v1/assignments/{run_id}", headers=AUTH).json()
    pairs = sum(len(a["platform_ids"]) for a in run["assignments"])
    assert pairs > 0 and run["request"]["max_per_platform"] == 1
    expect(page.locator("table.assignments tbody tr")).to_have_count(pairs)
    expect(page.locator("#objective")).to_have_text(f"{run['objective']:.3f}")
    expect(page.locator("#greedy")).to_have_text(f"{run['greedy_objective']:.3f}")
    site.shot(page, "assignment")

    with page.expect_download() as download:
        page.click("#csv-link")
    assert len(download.value.path().read_text(encoding="utf-8").splitlines()) == pairs + 1

    page.click("#notify-form button[type=submit]")
    expect(page.locator("#notified")).to_contain_text(str(pairs))
    page.click("#notify-form button[type=submit]")
    expect(page.locator("#notified")).to_contain_text("0")

    operator = browser.new_context(base_url=site.base).new_page()
    sign_in_with(operator, site.operator_key)
    expect(operator.locator("nav a[href='/assignments']")).to_have_count(0)
    missing = operator.goto("/assignments")
    assert missing is not None and missing.status == 404
    operator.context.close()
