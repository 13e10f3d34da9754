"""The loop after a match in a real browser (Playwright, Debian's Chromium) against a live `pilotmatch serve` on a
fresh database with the three sample platforms: a researcher submits on the web form, the best platform's operator
answers "interested", the researcher asks to be introduced, both see the other's contact, and the engagement moves
to a succeeded pilot test, each side clicking on its own page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from matcher import Runtime, create_platforms
from tests.conftest import AUTH, SAMPLE_PLATFORMS, make_settings
from tests.engagements.conftest import HYDROGEN_SUBMISSION
from tests.live import free_port, serve
from tests.web import test_web_browser as web

#: What a browser sees does not depend on the database backend: these run once, on SQLite.
pytestmark = pytest.mark.backend_independent

browser = web.browser  # the module's Chromium, as the other browser tests start it

RESEARCHER_CONTACT = HYDROGEN_SUBMISSION["contact"]
PLATFORM_CONTACT = "h2-pilot@example.cn"


@dataclass(frozen=True)
class FinishedLoop:
    """What the walk through the loop made, for checks that follow it (the reports count it)."""

    token: str
    technology_id: int
    platform_id: int
    introduction_id: int


@pytest.fixture(scope="module")
def loop_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A live server on a fresh database with the sample platforms (each with a contact); yields its base URL."""
    folder = tmp_path_factory.mktemp("loop-web")
    settings = make_settings(folder)
    rt = Runtime.open(settings)
    try:
        platforms = [p.model_copy(update={"contact": PLATFORM_CONTACT}) for p in SAMPLE_PLATFORMS]
        create_platforms(rt.db, rt.engine, rt.settings, platforms)
    finally:
        rt.close()
    port = free_port()
    server = serve(folder, port, settings.database_url)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _contexts(browser: Browser, base: str) -> tuple[Page, Page]:
    """Two browsers that share nothing: the researcher's and the operator's."""
    size = {"width": 1280, "height": 900}
    return (
        browser.new_context(viewport=size, base_url=base).new_page(),
        browser.new_context(viewport=size, base_url=base).new_page(),
    )


def submit_on_the_web_form(researcher: Page) -> str:
    """Search, then "submit this technology"; returns the private link's token."""
    researcher.goto("/")
    web.search(researcher, HYDROGEN_SUBMISSION["summary"])
    researcher.fill("#title", HYDROGEN_SUBMISSION["title"])
    researcher.fill("#contact", RESEARCHER_CONTACT)
    researcher.click("#submit-technology button[type=submit]")
    expect(researcher).to_have_url(re.compile(r"/t/[A-Za-z0-9_-]+\?new=1$"))
    return re.search(r"/t/([A-Za-z0-9_-]+)", researcher.url).group(1)  # type: ignore[union-attr]


def sign_in_as_operator(operator: Page, base: str, platform_id: int) -> None:
    key = httpx.post(f"{base}/v1/platforms/{platform_id}/keys", headers=AUTH).json()["key"]
    operator.goto("/operator/sign-in")
    operator.fill("#key", key)
    operator.click("form.card button[type=submit]")
    expect(operator).to_have_url(re.compile(f"/platforms/{platform_id}$"))


def walk_the_loop_to_a_succeeded_pilot(researcher: Page, operator: Page, base: str) -> FinishedLoop:
    token = submit_on_the_web_form(researcher)
    best = researcher.locator("ol.results > li h3 a").first.get_attribute("href")
    platform_id = int(best.rsplit("/", 1)[1])  # type: ignore[union-attr]
    sign_in_as_operator(operator, base, platform_id)

    # The operator answers "interested" in one click from the inbox; the researcher's contact is not shown.
    operator.goto(f"/platforms/{platform_id}/inbox")
    item = operator.locator("ul.inbox > li", has_text=HYDROGEN_SUBMISSION["title"]).first
    item.locator("button[name=decision][value=interested]").first.click()
    item = operator.locator("ul.inbox > li", has_text=HYDROGEN_SUBMISSION["title"]).first
    expect(item.locator(".badge.answer-interested")).to_be_visible()
    expect(operator.locator("main")).not_to_contain_text(RESEARCHER_CONTACT)

    # The researcher sees the answer and clicks "introduce me": the introduction is made.
    researcher.reload()
    card = researcher.locator(f"#loop-{platform_id}")
    expect(card.locator(".badge.answer-interested")).to_be_visible()
    card.locator("form.introduce button[type=submit]").click()
    intro = researcher.locator("article.introduction").first
    expect(intro.locator(".badge.status-introduced")).to_be_visible()
    expect(intro.locator("dd.contact")).to_have_text(PLATFORM_CONTACT)
    introduction_id = int(intro.get_attribute("id").removeprefix("intro-"))  # type: ignore[union-attr]

    # The operator opens the introduction from the inbox, sees the researcher's contact, and marks it agreed.
    operator.reload()
    operator.click(f"a[href='/platforms/{platform_id}/introductions/{introduction_id}']")
    expect(operator.locator("dd.contact")).to_have_text(RESEARCHER_CONTACT)
    operator.click("button[name=status][value=agreed]")
    expect(operator.locator(".badge.status-agreed")).to_be_visible()

    # The researcher moves it on: piloting, then completed with its outcome.
    researcher.reload()
    researcher.click(f"#intro-{introduction_id} button[name=status][value=piloting]")
    expect(researcher.locator(f"#intro-{introduction_id} .badge.status-piloting")).to_be_visible()
    researcher.select_option(f"#outcome-{introduction_id}", "succeeded")
    researcher.fill(f"#trl-{introduction_id}", "7")
    researcher.click(f"#intro-{introduction_id} form:has(#outcome-{introduction_id}) button[type=submit]")
    expect(researcher.locator(f"#intro-{introduction_id} .badge.status-completed")).to_be_visible()
    expect(researcher.locator(f"#intro-{introduction_id} dl")).to_contain_text("成功")

    operator.reload()
    expect(operator.locator(".badge.status-completed")).to_be_visible()
    expect(operator.locator("button[name=status]")).to_have_count(0)  # nothing more can change
    technology_id = httpx.get(f"{base}/v1/submissions/{token}").json()["technology"]["id"]
    return FinishedLoop(token, technology_id, platform_id, introduction_id)


def test_a_technology_goes_from_the_web_form_to_a_succeeded_pilot(browser: Browser, loop_site: str) -> None:
    researcher, operator = _contexts(browser, loop_site)
    try:
        done = walk_the_loop_to_a_succeeded_pilot(researcher, operator, loop_site)
        final = httpx.get(f"{loop_site}/v1/introductions/{done.introduction_id}", headers=AUTH).json()
        assert (final["status"], final["outcome"], final["trl_reached"]) == ("completed", "succeeded", 7)
        assert [e["to"] for e in final["events"]] == [
            "requested",
            "introduced",
            "agreed",
            "piloting",
            "completed",
        ]
        # Policy staff find it in the funnel, reached from the coverage page: one succeeded pilot test.
        researcher.goto("/coverage")
        researcher.locator("a[href^='/reports/funnel']").first.click()
        for stage in ("introduced", "agreed", "piloting", "completed", "succeeded"):
            expect(researcher.locator(f"#stage-{stage} .bar-cell .num")).to_have_text("1")
        expect(researcher.locator("main")).not_to_contain_text(RESEARCHER_CONTACT)
    finally:
        researcher.context.close()
        operator.context.close()
