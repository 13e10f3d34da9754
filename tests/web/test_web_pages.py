"""The web pages, rendered through the ASGI app: every page in both languages, forms, sign-in, escaping."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text as sa_text
from sqlmodel import select

from api.web.context import highlight, safe_next
from matcher import (
    Runtime,
    TechnologyCreate,
    create_platform_key,
    create_technology,
)
from matcher.platforms.models import Platform
from matcher.technologies.models import Technology

HTML = {"Accept": "text/html"}

ZH_MACHINING = (
    "我们为离心压缩机不锈钢整体叶轮开发了插铣粗加工加侧铣精加工的组合刀路和专用夹具，在一台进口五轴机床上加工时间缩短了40%。"
    "希望在国产五轴加工中心上做对比加工，验证刀路可移植性、叶片轮廓精度和表面质量。"
)

XSS = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'

#: A need no demo platform can pilot: its verdict is unmet demand.
TILAPIA = (
    "We bred a tilapia line resistant to streptococcal disease by marker-assisted selection over four "
    "generations. We now need pond trials with farmers across two seasons to confirm growth and survival."
)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "page has no CSRF token"
    return found.group(1)


def first_result_name(html: str) -> str:
    found = re.search(r'<li class="result card">.*?<h3><a href="/platforms/\d+">([^<]+)</a>', html, re.S)
    assert found, "no result card"
    return found.group(1)


# ---- operators ------------------------------------------------------------------------------------------------
def _sign_in(client: TestClient, key: str) -> TestClient:
    token = csrf_of(client.get("/operator/sign-in", headers=HTML).text)
    r = client.post("/operator/sign-in", data={"key": key, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text[:300]
    return client


# ---- rendering ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/?text=" + "高镍三元正极材料烧结工艺放大",
        "/?include_weak=1&text=" + TILAPIA,
        "/platforms",
        "/platforms?area=raw_materials&tier=national",
        "/platforms/1",
        "/coverage",
        "/coverage/cell?direction=integrated_circuits&province=shanghai",
        "/operator/sign-in",
        "/apply",
    ],
)
def test_every_page_renders_in_both_languages(client: TestClient, path: str, lang: str) -> None:
    client.cookies.set("pm_lang", lang)
    try:
        r = client.get(path, headers=HTML)
    finally:
        client.cookies.delete("pm_lang")
    assert r.status_code == 200, r.text[:500]
    assert f'<html lang="{"zh-CN" if lang == "zh" else "en"}">' in r.text
    assert r.headers["content-security-policy"].startswith("default-src 'self'")
    # Every form field has a label, and nothing is loaded from another site.
    for field_id in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', r.text):
        assert f'for="{field_id}"' in r.text, f"#{field_id} has no label on {path}"
    assert not re.search(r'<(script|link|img)[^>]*(src|href)="(https?:)?//', r.text), (
        "asset from another site"
    )


def test_language_choice_is_remembered(client: TestClient) -> None:
    r = client.get("/lang/en?next=/platforms", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/platforms"
    assert "pm_lang=en" in r.headers["set-cookie"] and "Max-Age=31536000" in r.headers["set-cookie"]
    try:
        assert "Platform directory" in client.get("/platforms", headers=HTML).text
    finally:
        client.cookies.delete("pm_lang")
    assert "平台名录" in client.get("/platforms", headers=HTML).text


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example", "/\\evil", None, ""])
def test_redirect_targets_stay_on_site(target: str | None) -> None:
    assert safe_next(target) == "/"


def test_a_stale_page_link_says_so_and_offers_the_first_page(client: TestClient) -> None:
    r = client.get("/platforms", params={"area": "raw_materials", "cursor": "not-a-cursor"})
    assert r.status_code == 422
    assert 'role="alert"' in r.text and "翻页链接已失效" in r.text
    assert 'href="/platforms?area=raw_materials"' in r.text


def test_highlight_escapes_text_and_terms() -> None:
    out = str(highlight("<b>钙钛矿</b> & perovskite", ["钙钛矿", "<b>", "PEROVSKITE"]))
    assert out == "<mark>&lt;b&gt;</mark><mark>钙钛矿</mark>&lt;/b&gt; &amp; <mark>perovskite</mark>"


def test_errors_are_pages_for_people_and_problems_for_programs(client: TestClient) -> None:
    page = client.get("/platforms/999999", headers=HTML)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert client.get("/platforms/not-a-number", headers=HTML).status_code == 404
    api = client.get("/v1/platforms/999999")
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"


# ---- researchers ----------------------------------------------------------------------------------------------
def test_chinese_summary_finds_the_five_axis_platform_first(client: TestClient) -> None:
    r = client.get("/", params={"text": ZH_MACHINING}, headers=HTML)
    assert r.status_code == 200
    assert first_result_name(r.text) == "高档数控机床五轴联动加工验证中试平台"
    assert "<mark>" in r.text and 'class="factors"' in r.text


def _cards(html: str) -> list[tuple[str, str]]:
    """(platform id, fit) of each result card, in order."""
    return re.findall(r'<h3><a href="/platforms/(\d+)">.*?<span class="fit fit-(\w+)"', html, re.S)


def test_the_page_says_the_verdict_its_api_twin_answers(client: TestClient) -> None:
    """Nothing fits: the page says so above the results, with the coverage cell the need counts under, and
    /v1/match answers ``unmet_demand`` for the same search; a need that fits gets neither."""
    unmet = client.get("/", params={"text": TILAPIA}, headers=HTML)
    api = client.post("/v1/match", json={"text": TILAPIA}).json()
    assert api["unmet_demand"] is True
    assert unmet.text.index('id="unmet-demand"') < unmet.text.index('<ol class="results">')
    assert "没有平台很适合这项技术" in unmet.text and "未满足需求" in unmet.text
    direction = api["inferred_directions"][0]["code"]
    cell = re.search(r'id="unmet-demand".*?<a href="(/coverage/cell\?[^"]+)"', unmet.text, re.S)
    assert cell and cell.group(1) == f"/coverage/cell?direction={direction}&amp;province=unspecified"
    assert client.get(cell.group(1).replace("&amp;", "&"), headers=HTML).status_code == 200
    # A chosen province and direction are the cell's.
    chosen = client.get(
        "/",
        params={"text": TILAPIA, "province": "anhui", "directions": "building_materials"},
        headers=HTML,
    )
    assert "/coverage/cell?direction=building_materials&amp;province=anhui" in chosen.text
    fits = client.get("/", params={"text": ZH_MACHINING}, headers=HTML)
    assert client.post("/v1/match", json={"text": ZH_MACHINING}).json()["unmet_demand"] is False
    assert 'id="unmet-demand"' not in fits.text


def test_weak_fits_after_the_first_three_are_one_link_away(client: TestClient, demo_runtime: Runtime) -> None:
    """Results stop at the floor; "show weaker fits too" keeps the search and adds include_weak, and then the
    page lists what the API lists with ``include_weak``."""
    params = {"text": ZH_MACHINING, "trl": "5"}
    r = client.get("/", params=params, headers=HTML)
    shown = demo_runtime.settings.weak_results_shown
    cards = _cards(r.text)
    assert len(cards) >= shown and all(fit != "weak" for _, fit in cards[shown:])  # weak only among the first
    link = re.search(r'<a id="show-weak" href="([^"]+)"', r.text)
    assert link, "weak fits were left out: the page offers them"
    url = link.group(1).replace("&amp;", "&")
    assert url.startswith("/?") and "include_weak=1" in url and "trl=5" in url
    more = client.get(url, headers=HTML)
    api = client.post("/v1/match", json={"text": ZH_MACHINING, "trl": 5, "include_weak": True}).json()
    assert [int(pid) for pid, _ in _cards(more.text)] == [m["platform_id"] for m in api["matches"]]
    assert len(api["matches"]) > len(cards) and 'id="show-weak"' not in more.text
    # The folded search keeps asking for them when a filter changes.
    assert '<input type="hidden" name="include_weak" value="1">' in more.text


def test_calibration_is_the_fit_label_and_its_meaning_not_a_bar(client: TestClient) -> None:
    """The API's explanation has ``calibration`` and sums to the score; the page draws only the factors and
    says what each fit label means, on the badge and once below the results."""
    m = client.post("/v1/match", json={"text": ZH_MACHINING}).json()["matches"][0]
    assert "calibration" in m["explanation"] and abs(sum(m["explanation"].values()) - m["score"]) < 1e-3
    for lang, calibration, meaning in (
        ("zh", "校准</th>", "至少 85%"),
        ("en", "Calibration</th>", "at least 85%"),
    ):
        client.cookies.set("pm_lang", lang)
        try:
            r = client.get("/", params={"text": ZH_MACHINING}, headers=HTML)
        finally:
            client.cookies.delete("pm_lang")
        assert 'class="factor-table"' in r.text and calibration not in r.text
        badge = re.search(r'<span class="fit fit-good" title="([^"]+)"', r.text)
        assert badge and meaning in badge.group(1)
        assert 'id="fit-meaning-good"' in r.text and 'id="fit-meaning-weak"' in r.text
        raw = sum(v for k, v in m["explanation"].items() if k != "calibration")
        assert f"{raw:.2f}" in r.text.split('class="factors"')[1].split("</figcaption>")[0]


def test_filters_refine_and_keep_the_text(client: TestClient) -> None:
    r = client.get(
        "/", params={"text": ZH_MACHINING, "tier": "national", "area": "raw_materials"}, headers=HTML
    )
    assert r.status_code == 200
    assert ZH_MACHINING in r.text  # the textarea keeps what was typed
    tiers = re.findall(r'<span class="badge tier-([a-z_]+)">', r.text.split('id="results"')[1])
    assert tiers and set(tiers) == {"national"}


def test_htmx_request_gets_only_the_results(client: TestClient) -> None:
    r = client.get(
        "/", params={"text": ZH_MACHINING}, headers=HTML | {"HX-Request": "true", "HX-Target": "results"}
    )
    assert r.text.lstrip().startswith('<section id="results"') and "<html" not in r.text


def test_bad_preferences_are_shown_beside_the_field(client: TestClient) -> None:
    r = client.get("/", params={"text": "钙钛矿", "trl": "12"}, headers=HTML)
    assert r.status_code == 422 and 'id="trl-error"' in r.text
    r = client.get("/", params={"text": "钙钛矿", "area": "nonsense"}, headers=HTML)
    assert r.status_code == 422 and 'id="area-error"' in r.text
    # Several at once: each beside its field, in one answer.
    r = client.get(
        "/",
        params={"text": "钙钛矿", "trl": "12", "area": "nonsense", "tier": "gold", "province": "Atlantis"},
        headers=HTML,
    )
    assert r.status_code == 422
    assert all(f'id="{name}-error"' in r.text for name in ("trl", "area", "tier", "province"))
    # An unknown code reads in the page's language.
    zh = client.get(
        "/", params={"text": "钙钛矿", "area": "nonsense"}, headers=HTML | {"Cookie": "pm_lang=zh"}
    )
    assert "没有“nonsense”这一项" in zh.text
    en = client.get(
        "/", params={"text": "钙钛矿", "area": "nonsense"}, headers=HTML | {"Cookie": "pm_lang=en"}
    )
    assert "There is no “nonsense”" in en.text


def test_user_text_is_escaped(client: TestClient) -> None:
    r = client.get("/", params={"text": XSS}, headers=HTML)
    assert r.status_code == 200
    assert "<script>alert" not in r.text and "<img src=x" not in r.text
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in r.text


def test_submitting_needs_a_csrf_token(small_client: TestClient, small_runtime: Runtime) -> None:
    small_client.get("/", headers=HTML)
    body = {"text": "PEM电解槽电堆耐久性测试", "contact": "lab@example.edu.cn"}
    assert small_client.post("/technologies", data=body, headers=HTML).status_code == 403
    assert (
        small_client.post("/technologies", data=body | {"csrf_token": "forged"}, headers=HTML).status_code
        == 403
    )
    token = csrf_of(small_client.get("/?text=x", headers=HTML).text)
    cross = small_client.post(
        "/technologies", data=body | {"csrf_token": token}, headers=HTML | {"Origin": "https://evil.example"}
    )
    assert cross.status_code == 403
    with small_runtime.session() as s:
        assert s.exec(select(Technology)).all() == []


def test_submission_stores_the_technology_and_opens_a_private_link(
    small_client: TestClient, small_runtime: Runtime
) -> None:
    token = csrf_of(small_client.get("/?text=x", headers=HTML).text)
    missing = small_client.post(
        "/technologies", data={"text": "PEM电解槽", "csrf_token": token}, headers=HTML
    )
    assert missing.status_code == 422 and 'id="contact-error"' in missing.text
    r = small_client.post(
        "/technologies",
        data={
            "text": "质子交换膜电解槽电堆需要兆瓦级耐久性验证 " + XSS,
            "title": XSS,
            "contact": "lab@example.edu.cn",
            "trl": "5",
            "service_types": ["performance"],
            "province": "广东",
            "csrf_token": token,
        },
        headers=HTML,
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:300]
    link = r.headers["location"]
    assert link.startswith("/t/")
    page = small_client.get(link, headers=HTML)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    # The link to keep is on the address the page was reached at (no PILOTMATCH_PUBLIC_URL is set here).
    assert f"http://testserver{link.split('?')[0]}</code>" in page.text
    assert "<script>alert" not in page.text and "&lt;script&gt;" in page.text
    assert "PEM电解水制氢中试平台" in page.text
    with small_runtime.session() as s:
        tech = s.exec(select(Technology)).one()
    assert (
        tech.contact == "lab@example.edu.cn" and tech.preferred_provinces == ["guangdong"] and tech.trl == 5
    )
    secret = link.removeprefix("/t/").split("?")[0]
    assert tech.access_token_hash and secret not in tech.access_token_hash
    assert small_client.get("/t/" + secret[:-2] + "xx", headers=HTML).status_code == 404


def test_the_private_link_says_its_technology_counts_as_unmet_demand_in_its_cell(
    small_client: TestClient,
) -> None:
    """A submitted need nothing fits: its page and its JSON twin give the verdict, and the page links the
    coverage cell that now lists it."""
    title = "Disease-resistant tilapia line"
    created = small_client.post(
        "/v1/submissions",
        json={
            "title": title,
            "summary": TILAPIA,
            "preferred_provinces": ["hebei"],
            "contact": "lab@example.edu.cn",
        },
    )
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    assert small_client.get(f"/v1/submissions/{token}").json()["unmet_demand"] is True
    page = small_client.get(f"/t/{token}", headers=HTML | {"Cookie": "pm_lang=en"})
    assert "It counts as unmet demand in the network coverage report." in page.text
    cell = re.search(
        r'id="unmet-demand".*?<a href="(/coverage/cell\?direction=\w+&amp;province=hebei)"', page.text, re.S
    )
    assert cell, "the cell of its first direction and its province"
    listed = small_client.get(cell.group(1).replace("&amp;", "&"), headers=HTML)
    assert title in listed.text.split('id="cell-unmet"')[1].split('id="cell-platforms"')[0]


def test_operator_signs_in_edits_own_profile_only(small_client: TestClient, small_runtime: Runtime) -> None:
    with small_runtime.session() as s:
        mine, other = s.exec(select(Platform).order_by(Platform.id)).all()[:2]
    _, key = create_platform_key(small_runtime.db, mine.id)  # type: ignore[arg-type]
    wrong = small_client.post(
        "/operator/sign-in",
        data={"key": "pm_platform_wrong", "csrf_token": csrf_of(small_client.get("/operator/sign-in").text)},
    )
    assert wrong.status_code == 401 and 'id="key-error"' in wrong.text
    _sign_in(small_client, key)
    assert (
        small_client.get("/operator", follow_redirects=False).headers["location"] == f"/platforms/{mine.id}"
    )
    assert small_client.get(f"/platforms/{other.id}/edit", headers=HTML).status_code == 404

    form = small_client.get(f"/platforms/{mine.id}/edit", headers=HTML).text
    fields = {
        "csrf_token": csrf_of(form),
        "name": mine.name,
        "area": mine.area,
        "province": mine.province or "",
        "capabilities": mine.capabilities,
        "directions": mine.directions,
        "service_types": mine.service_types,
        "active": "on",
        "trl_min": "8",
        "trl_max": "3",
        "tier": "national",  # an operator cannot promote their own platform: ignored
    }
    bad = small_client.post(f"/platforms/{mine.id}/edit", data=fields, headers=HTML)
    assert bad.status_code == 422 and 'id="trl_min-error"' in bad.text
    assert 'value="8"' in bad.text  # what was typed is shown again
    assert 'maxlength="200"' in bad.text  # the inputs' limits reach the browser as attributes
    # Every mistake is shown at once: an empty name, an unknown province, a negative capacity, the TRL range.
    several = fields | {"name": "", "province": "Atlantis", "capacity": "-3"}
    bad = small_client.post(f"/platforms/{mine.id}/edit", data=several, headers=HTML)
    assert bad.status_code == 422
    assert all(f'id="{name}-error"' in bad.text for name in ("name", "province", "capacity", "trl_min"))
    with small_runtime.session() as s:
        assert s.get(Platform, mine.id).trl_min == mine.trl_min  # type: ignore[union-attr]
    ok = small_client.post(
        f"/platforms/{mine.id}/edit", data=fields | {"trl_min": "3", "trl_max": "8"}, follow_redirects=False
    )
    assert ok.status_code == 303 and ok.headers["location"].endswith("?saved=1")
    with small_runtime.session() as s:
        saved = s.get(Platform, mine.id)
    assert saved is not None and (saved.trl_min, saved.trl_max, saved.tier) == (3, 8, mine.tier)
    # Another platform's page shows no operator tools; the own one shows the technologies that fit it.
    assert "/edit" not in small_client.get(f"/platforms/{other.id}", headers=HTML).text
    assert 'id="fits-title"' in small_client.get(f"/platforms/{mine.id}", headers=HTML).text


def test_signing_out_ends_the_session_for_every_copy_of_its_cookie(
    small_client: TestClient, small_runtime: Runtime
) -> None:
    with small_runtime.session() as s:
        mine = s.exec(select(Platform).order_by(Platform.id)).first()
    _, key = create_platform_key(small_runtime.db, mine.id)  # type: ignore[arg-type, union-attr]
    _sign_in(small_client, key)
    saved = small_client.cookies.get("pm_session")
    edit = f"/platforms/{mine.id}/edit"  # type: ignore[union-attr]
    assert small_client.get(edit, headers=HTML).status_code == 200
    page = small_client.get(edit, headers=HTML).text
    out = small_client.post("/operator/sign-out", data={"csrf_token": csrf_of(page)}, follow_redirects=False)
    assert out.status_code == 303
    small_client.cookies.set("pm_session", saved)  # the copy an attacker kept
    again = small_client.get(edit, headers=HTML, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/operator/sign-in")


def test_operator_reads_the_inbox_and_marks_an_item_read(
    small_client: TestClient, small_runtime: Runtime
) -> None:
    tech = create_technology(
        small_runtime.db,
        small_runtime.engine,
        small_runtime.settings,
        TechnologyCreate(summary="质子交换膜电解槽电堆组装与兆瓦级耐久性验证", contact="h2@example.edu.cn"),
    )
    with small_runtime.session() as s:
        hydrogen = s.exec(select(Platform).where(Platform.external_id == "s-hydrogen")).one()
    _, key = create_platform_key(small_runtime.db, hydrogen.id)  # type: ignore[arg-type]
    _sign_in(small_client, key)
    inbox = small_client.get(f"/platforms/{hydrogen.id}/inbox", headers=HTML)
    assert inbox.status_code == 200 and "质子交换膜电解槽" in inbox.text
    note_id = re.search(r'id="note-(\d+)"', inbox.text).group(1)  # type: ignore[union-attr]
    r = small_client.post(
        f"/platforms/{hydrogen.id}/inbox/{note_id}/read",
        data={"csrf_token": csrf_of(inbox.text)},
        headers=HTML | {"HX-Request": "true"},
    )
    assert r.status_code == 200 and r.text.lstrip().startswith("<li") and "unread" not in r.text
    assert tech.id is not None
    # The sign-in expires meanwhile: htmx is told to load the sign-in page, not to swap it into the list item.
    with small_runtime.db.begin() as conn:
        conn.execute(sa_text("UPDATE web_sign_in SET expires_at = created_at"))
    r = small_client.post(
        f"/platforms/{hydrogen.id}/inbox/{note_id}/read",
        data={"csrf_token": csrf_of(inbox.text)},
        headers=HTML | {"HX-Request": "true"},
        follow_redirects=False,
    )
    assert r.status_code == 204, r.status_code
    assert r.headers["HX-Redirect"].startswith("/operator/sign-in")
