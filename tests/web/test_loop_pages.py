"""The loop after a match on the web pages, through the real app on a fresh small runtime: the researcher's private
page (answers, "introduce me", moves), the operator's one-click answers and introduction page, who sees which
contact when, and the refusals (unknown token, another platform, no CSRF token, illegal moves)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import AUTH
from tests.engagements import conftest as loop
from tests.engagements.conftest import HYDROGEN_SUBMISSION, Pair, submit_pair
from tests.web.test_web_pages import HTML, _sign_in, csrf_of

#: The loop's fixtures: a fresh runtime with the three sample platforms (every fit notified) and its client.
loop_rt, api = loop.loop_rt, loop.api

CONTACT = HYDROGEN_SUBMISSION["contact"]
PLATFORM_CONTACT = "h2-pilot@example.cn"


def _labelled(html: str) -> None:
    """Every form field of the page has its label (the new forms repeat per item: their ids must stay unique)."""
    ids = re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "duplicate ids"
    for field_id in ids:
        assert f'for="{field_id}"' in html, f"#{field_id} has no label"


def _private(response) -> None:  # type: ignore[no-untyped-def]
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"


def _operator(api: TestClient, auth: dict[str, str]) -> TestClient:
    """A second browser on the same app, signed in with the platform key in ``auth``."""
    return _sign_in(TestClient(api.app), auth["Authorization"].removeprefix("Bearer "))


def _introduction_id(api: TestClient, pair: Pair) -> int:
    return api.get(f"/v1/submissions/{pair.token}").json()["introductions"][0]["id"]


def test_researcher_page_shows_answers_asks_for_an_introduction_and_moves_it(api: TestClient) -> None:
    pair = submit_pair(api)
    contact = api.patch(f"/v1/platforms/{pair.platform_id}", json={"contact": PLATFORM_CONTACT}, headers=AUTH)
    assert contact.status_code == 200, contact.text
    api.put(pair.response_url, json={"decision": "interested", "message": "三月可以开始。"}, headers=pair.key)
    other_url = f"/v1/platforms/{pair.other_platform_id}/technologies/{pair.technology_id}/response"
    api.put(other_url, json={"decision": "declined", "reason": "wrong_scale"}, headers=pair.other_key)
    link = f"/t/{pair.token}"

    page = api.get(link, headers=HTML)
    assert page.status_code == 200
    _private(page)
    _labelled(page.text)
    best = page.text.split(f'id="loop-{pair.platform_id}"')[1].split("</li>")[0]
    assert "有意向" in best and "三月可以开始。" in best
    assert "已婉拒：规模不符" in page.text.split(f'id="loop-{pair.other_platform_id}"')[1].split("</li>")[0]
    assert page.text.count(f'action="{link}/introductions"') == 3  # one "introduce me" per matched platform
    assert PLATFORM_CONTACT not in page.text

    # The form needs its CSRF token; with it, the introduction is made (the platform said yes already).
    refused = api.post(f"{link}/introductions", data={"platform_id": pair.platform_id}, headers=HTML)
    assert (
        refused.status_code == 403 and api.get(f"/v1/submissions/{pair.token}").json()["introductions"] == []
    )
    asked = api.post(
        f"{link}/introductions",
        data={"platform_id": pair.platform_id, "message": "春天？", "csrf_token": csrf_of(page.text)},
        headers=HTML,
        follow_redirects=False,
    )
    assert asked.status_code == 303, asked.text[:300]
    _private(asked)
    intro_id = _introduction_id(api, pair)
    assert asked.headers["location"] == f"{link}#intro-{intro_id}"
    page = api.get(link, headers=HTML)
    card = page.text.split(f'id="intro-{intro_id}"')[1]
    assert "已引荐" in card and PLATFORM_CONTACT in card and "春天？" in card
    assert page.text.count(f'action="{link}/introductions"') == 2

    token, move = csrf_of(page.text), f"{link}/introductions/{intro_id}"
    no_outcome = api.post(move, data={"status": "completed", "csrf_token": token}, headers=HTML)
    assert no_outcome.status_code == 422 and 'id="action-error"' in no_outcome.text
    assert "完成时请选择结果" in no_outcome.text
    _private(no_outcome)
    ok = api.post(move, data={"status": "agreed", "csrf_token": token}, headers=HTML, follow_redirects=False)
    assert ok.status_code == 303
    # A decline after the introduction is refused by the domain and said on the page; nothing changes.
    late = api.post(move, data={"status": "declined", "csrf_token": token}, headers=HTML)
    assert late.status_code == 409 and "未能更改" in late.text and '<p class="hint" lang="en">' in late.text
    assert api.get(f"/v1/introductions/{intro_id}", headers=AUTH).json()["status"] == "agreed"
    # Only the moves legal from "agreed" are offered.
    offered = set(re.findall(r'name="status" value="(\w+)"', late.text.split(f'id="intro-{intro_id}"')[1]))
    assert offered == {"piloting", "withdrawn", "completed"}

    # An unknown token is 404 on every route, and so is another technology's introduction.
    gone = "/t/not-a-token"
    for r in (
        api.get(gone, headers=HTML),
        api.post(f"{gone}/introductions", data={"platform_id": pair.platform_id, "csrf_token": token}),
        api.post(f"{gone}/introductions/{intro_id}", data={"status": "withdrawn", "csrf_token": token}),
    ):
        assert r.status_code == 404 and "这个链接打不开任何技术" in r.text
        _private(r)
    other = api.post("/v1/submissions", json=HYDROGEN_SUBMISSION | {"title": "Another"}).json()["token"]
    foreign = api.post(
        f"/t/{other}/introductions/{intro_id}",
        data={"status": "withdrawn", "csrf_token": token},
        headers=HTML,
    )
    assert foreign.status_code == 404
    assert api.get(f"/v1/introductions/{intro_id}", headers=AUTH).json()["status"] == "agreed"


def test_operator_answers_in_one_click_and_sees_the_contact_only_after_the_introduction(
    api: TestClient,
) -> None:
    pair = submit_pair(api)
    api.post(f"/v1/submissions/{pair.token}/introductions", json={"platform_id": pair.platform_id})
    intro_id = _introduction_id(api, pair)
    op = _operator(api, pair.key)
    pid, tid = pair.platform_id, pair.technology_id
    inbox_url, intro_url = f"/platforms/{pid}/inbox", f"/platforms/{pid}/introductions/{intro_id}"
    answer_url = f"/platforms/{pid}/technologies/{tid}/response"

    pages = {url: op.get(url, headers=HTML) for url in (inbox_url, f"/platforms/{pid}", intro_url)}
    for url, page in pages.items():
        assert page.status_code == 200, url
        assert CONTACT not in page.text, f"the researcher's contact leaked on {url}"
        assert f'action="{answer_url}"' in page.text and "尚未答复" in page.text and "待平台答复" in page.text
        _labelled(page.text)
    assert "完成引荐后显示对方的联系方式" in pages[intro_url].text
    token = csrf_of(pages[inbox_url].text)

    assert (
        op.post(answer_url, data={"decision": "interested", "back": "inbox"}, headers=HTML).status_code == 403
    )
    assert (
        op.post(answer_url, data={"decision": "declined", "back": "inbox", "csrf_token": token}).status_code
        == 422
    )
    declined = op.post(
        answer_url,
        data={"decision": "declined", "reason": "wrong_scale", "back": "platform", "csrf_token": token},
        follow_redirects=False,
    )
    assert declined.status_code == 303 and declined.headers["location"] == f"/platforms/{pid}#tech-{tid}"
    assert "已婉拒：规模不符" in op.get(f"/platforms/{pid}", headers=HTML).text
    assert CONTACT not in op.get(intro_url, headers=HTML).text

    # Changing the answer to "interested" makes the introduction (the researcher asked): now it shows the contact.
    yes = op.post(answer_url, data={"decision": "interested", "back": "inbox", "csrf_token": token})
    assert yes.status_code == 200 and "已引荐" in yes.text and "有意向" in yes.text
    assert f'action="{answer_url}"' not in yes.text  # no answer can change any more: none is offered
    made = op.get(intro_url, headers=HTML)
    assert CONTACT in made.text.split('class="contact"')[1].split("</dd>")[0]
    late = op.post(
        answer_url,
        data={"decision": "declined", "reason": "other", "back": "introduction", "csrf_token": token},
    )
    assert late.status_code == 409 and "答复不能再更改" in late.text and 'id="action-error"' in late.text

    moved = op.post(intro_url, data={"status": "agreed", "note": "三月开工", "csrf_token": token})
    assert moved.status_code == 200 and "已商定" in moved.text and "三月开工" in moved.text
    assert api.get(f"/v1/submissions/{pair.token}").json()["introductions"][0]["status"] == "agreed"

    # The researcher's move reaches the inbox saying what changed (the platform's own moves are not news to it).
    researcher_url = f"/v1/submissions/{pair.token}/introductions/{intro_id}"
    api.patch(researcher_url, json={"status": "piloting", "note": "样品已寄出"})
    inbox = op.get(inbox_url, headers=HTML).text
    assert inbox.count("对接进展有更新") == 1 and "研究者将对接更新为" in inbox and "样品已寄出" in inbox

    # In English too: the domain's names of statuses and reasons.
    op.cookies.set("pm_lang", "en")
    english = op.get(intro_url, headers=HTML).text
    assert "Pilot test under way" in english and "Move the engagement on" in english

    # Another platform's operator: 404 on the page, the moves and the answers of this platform.
    stranger = _operator(api, pair.other_key)
    assert stranger.get(intro_url, headers=HTML).status_code == 404
    stranger_token = csrf_of(stranger.get(f"/platforms/{pair.other_platform_id}", headers=HTML).text)
    assert (
        stranger.post(intro_url, data={"status": "withdrawn", "csrf_token": stranger_token}).status_code
        == 404
    )
    own_url = f"/platforms/{pair.other_platform_id}/introductions/{intro_id}"
    assert stranger.get(own_url, headers=HTML).status_code == 404
    assert (
        stranger.post(answer_url, data={"decision": "interested", "csrf_token": stranger_token}).status_code
        == 404
    )
    assert api.get(f"/v1/introductions/{intro_id}", headers=AUTH).json()["status"] == "piloting"
