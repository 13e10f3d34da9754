"""The loop after a match, through the HTTP API: answers, double opt-in introductions, engagement stages, and
every refusal."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from tests.conftest import AUTH
from tests.engagements.conftest import HYDROGEN_SUBMISSION, submit_pair

CONTACT = HYDROGEN_SUBMISSION["contact"]


def test_the_loop_from_submission_to_a_completed_pilot(api: TestClient) -> None:
    pair = submit_pair(api)
    mine = api.get(f"/v1/submissions/{pair.token}")
    assert mine.status_code == 200 and mine.headers["cache-control"] == "no-store"
    assert mine.json()["technology"]["contact"] == CONTACT
    assert mine.json()["responses"] == [] and mine.json()["introductions"] == []

    answer = api.put(
        pair.response_url,
        json={"decision": "interested", "message": "We can start in March."},
        headers=pair.key,
    )
    assert answer.status_code == 200, answer.text
    responses = api.get(f"/v1/submissions/{pair.token}").json()["responses"]
    assert [(r["platform_id"], r["decision"], r["message"]) for r in responses] == [
        (pair.platform_id, "interested", "We can start in March.")
    ]

    asked = api.post(
        f"/v1/submissions/{pair.token}/introductions",
        json={"platform_id": pair.platform_id, "message": "Spring?"},
    )
    assert asked.status_code == 201, asked.text
    intro = asked.json()
    assert intro["status"] == "introduced" and intro["introduced_at"]
    assert intro["technology"]["contact"] == CONTACT  # the researcher always sees their own
    again = api.post(f"/v1/submissions/{pair.token}/introductions", json={"platform_id": pair.platform_id})
    assert again.status_code == 200 and again.json()["id"] == intro["id"]

    seen = api.get(f"/v1/introductions/{intro['id']}", headers=pair.key).json()
    assert seen["technology"]["contact"] == CONTACT and seen["message"] == "Spring?"
    assert api.get(f"/v1/introductions/{intro['id']}", headers=pair.other_key).status_code == 404
    assert api.get(f"/v1/introductions/{intro['id']}").status_code == 401
    assert api.get(f"/v1/introductions/{intro['id']}", headers=AUTH).status_code == 200

    url = f"/v1/submissions/{pair.token}/introductions/{intro['id']}"
    assert (
        api.patch(f"/v1/introductions/{intro['id']}", json={"status": "agreed"}, headers=pair.key).json()[
            "status"
        ]
        == "agreed"
    )
    assert api.patch(url, json={"status": "piloting", "trl_reached": 6}).json()["status"] == "piloting"
    no_outcome = api.patch(url, json={"status": "completed"})
    assert no_outcome.status_code == 422 and no_outcome.headers["content-type"].startswith(
        "application/problem+json"
    )
    back = api.patch(f"/v1/introductions/{intro['id']}", json={"status": "agreed"}, headers=pair.key)
    assert back.status_code == 409 and back.headers["content-type"].startswith("application/problem+json")
    done = api.patch(
        url, json={"status": "completed", "outcome": "succeeded", "trl_reached": 7, "note": "50 kg run"}
    )
    assert done.status_code == 200, done.text
    final = done.json()
    assert (final["status"], final["outcome"], final["trl_reached"]) == ("completed", "succeeded", 7)
    moves = [(e["actor"], e["from"], e["to"]) for e in final["events"]]
    assert moves == [
        ("researcher", None, "requested"),
        ("researcher", "requested", "introduced"),
        ("platform", "introduced", "agreed"),
        ("researcher", "agreed", "piloting"),
        ("researcher", "piloting", "completed"),
    ]
    assert api.patch(url, json={"status": "withdrawn"}).status_code == 409
    assert api.get(url).json() == api.get(f"/v1/submissions/{pair.token}").json()["introductions"][0]


def test_the_researchers_contact_stays_hidden_until_both_said_yes(api: TestClient, loop_rt) -> None:  # type: ignore[no-untyped-def]
    pair = submit_pair(api)
    asked = api.post(
        f"/v1/submissions/{pair.token}/introductions", json={"platform_id": pair.platform_id}
    ).json()
    assert asked["status"] == "requested" and asked["platform"]["contact"] is None

    def platform_views() -> str:
        views = [
            api.get(f"/v1/introductions/{asked['id']}", headers=pair.key).json(),
            api.get(f"/v1/platforms/{pair.platform_id}/technologies", headers=pair.key).json(),
            api.get(f"/v1/platforms/{pair.platform_id}/technologies").json(),
            api.get(f"/v1/platforms/{pair.platform_id}/notifications", headers=pair.key).json(),
            api.get(f"/v1/technologies/{pair.technology_id}", headers=pair.key).json(),
            api.get("/v1/technologies").json(),
        ]
        return json.dumps(views, ensure_ascii=False)

    assert CONTACT not in platform_views()
    fits = api.get(f"/v1/platforms/{pair.platform_id}/technologies", headers=pair.key).json()["matches"]
    state = next(m for m in fits if m["technology_id"] == pair.technology_id)
    assert state["introduction"] == {"id": asked["id"], "status": "requested"} and state["response"] is None
    assert all(
        m["response"] is None
        for m in api.get(f"/v1/platforms/{pair.platform_id}/technologies").json()["matches"]
    )
    kinds = [
        n["type"]
        for n in api.get(f"/v1/platforms/{pair.platform_id}/notifications", headers=pair.key).json()["items"]
    ]
    assert "introduction.requested" in kinds and "match.created" in kinds

    assert api.put(pair.response_url, json={"decision": "interested"}, headers=pair.key).status_code == 200
    made = api.get(f"/v1/introductions/{asked['id']}", headers=pair.key).json()
    assert made["status"] == "introduced" and made["technology"]["contact"] == CONTACT
    inbox = api.get(f"/v1/platforms/{pair.platform_id}/notifications", headers=pair.key).json()["items"]
    news = next(n for n in inbox if n["type"] == "introduction.made")
    assert news["data"]["technology"]["contact"] == CONTACT
    researcher = api.get(f"/v1/submissions/{pair.token}/introductions/{asked['id']}").json()
    assert researcher["platform"]["name"] and researcher["status"] == "introduced"
    # Another platform still sees nothing of it.
    other = api.get(f"/v1/platforms/{pair.other_platform_id}/notifications", headers=pair.other_key).text
    assert CONTACT not in other


def test_refusals_are_problems_and_change_nothing(api: TestClient) -> None:
    pair = submit_pair(api)
    no_reason = api.put(pair.response_url, json={"decision": "declined"}, headers=pair.key)
    assert no_reason.status_code == 422 and "reason" in no_reason.text
    assert api.put(pair.response_url, json={"decision": "maybe"}, headers=pair.key).status_code == 422
    long = api.put(
        pair.response_url, json={"decision": "interested", "message": "x" * 2001}, headers=pair.key
    )
    assert long.status_code == 422
    # Another platform's key cannot answer for this one; nobody answers for a missing technology.
    assert (
        api.put(pair.response_url, json={"decision": "interested"}, headers=pair.other_key).status_code == 404
    )
    missing = f"/v1/platforms/{pair.platform_id}/technologies/999999/response"
    assert api.put(missing, json={"decision": "interested"}, headers=pair.key).status_code == 404
    assert api.put(pair.response_url, json={"decision": "interested"}).status_code == 401
    assert api.get(f"/v1/submissions/{pair.token}").json()["responses"] == []

    for token in ("not-a-token", "x" * 40, pair.token + "x"):
        assert api.get(f"/v1/submissions/{token}").status_code == 404
        assert (
            api.post(
                f"/v1/submissions/{token}/introductions", json={"platform_id": pair.platform_id}
            ).status_code
            == 404
        )
        assert (
            api.patch(f"/v1/submissions/{token}/introductions/1", json={"status": "withdrawn"}).status_code
            == 404
        )
    assert (
        api.post(f"/v1/submissions/{pair.token}/introductions", json={"platform_id": 999999}).status_code
        == 404
    )
    assert api.post(f"/v1/submissions/{pair.token}/introductions", json={}).status_code == 422

    asked = api.post(
        f"/v1/submissions/{pair.token}/introductions", json={"platform_id": pair.platform_id}
    ).json()
    url = f"/v1/submissions/{pair.token}/introductions/{asked['id']}"
    early = api.patch(url, json={"status": "agreed"})
    assert early.status_code == 409 and "both sides" in early.json()["detail"]
    assert api.patch(url, json={"status": "completed"}).status_code == 422
    assert api.patch(url, json={}).status_code == 422
    assert api.patch(url, json={"status": "introduced"}).status_code == 422
    other = submit_pair(api, {**HYDROGEN_SUBMISSION, "contact": "other@example.edu.cn"})
    assert api.get(f"/v1/submissions/{other.token}/introductions/{asked['id']}").status_code == 404
    assert api.get(url).json()["status"] == "requested"

    # Declined by the researcher: the platform's interest does not make it; asking again takes the decline back.
    declined = api.patch(url, json={"status": "declined"}).json()
    assert (declined["status"], declined["declined_by"]) == ("declined", "researcher")
    assert api.put(pair.response_url, json={"decision": "interested"}, headers=pair.key).status_code == 200
    assert api.get(url).json()["status"] == "declined"
    reopened = api.post(f"/v1/submissions/{pair.token}/introductions", json={"platform_id": pair.platform_id})
    assert reopened.status_code == 200 and reopened.json()["status"] == "introduced"
    # Made: the answer is fixed (the same answer again is harmless), declining is over, withdrawing is not.
    assert (
        api.put(
            pair.response_url, json={"decision": "declined", "reason": "other"}, headers=pair.key
        ).status_code
        == 409
    )
    assert api.put(pair.response_url, json={"decision": "interested"}, headers=pair.key).status_code == 200
    assert api.patch(url, json={"status": "declined"}).status_code == 409
    gone = api.patch(f"/v1/introductions/{asked['id']}", json={"status": "withdrawn"}, headers=pair.key)
    assert gone.json()["status"] == "withdrawn"
    assert api.patch(url, json={"note": "too late"}).status_code == 409


def test_a_submission_needs_a_contact_that_reaches_someone(api: TestClient) -> None:
    base = {k: v for k, v in HYDROGEN_SUBMISSION.items() if k != "contact"}
    for contact in (None, "", "13800000000", "bob", "a@b"):
        body = base if contact is None else {**base, "contact": contact}
        r = api.post("/v1/submissions", json=body)
        assert r.status_code == 422, contact
        assert r.json()["errors"][0]["field"] == "contact"
    for contact in ("王工 138 0000 0000", "Dr. Li +86 10 6275 1234", "li@lab.edu.cn"):
        assert api.post("/v1/submissions", json={**base, "contact": contact}).status_code == 201
    assert api.post("/v1/submissions", json={**HYDROGEN_SUBMISSION, "external_id": "x"}).status_code == 422
    assert api.post("/v1/submissions", json={**HYDROGEN_SUBMISSION, "status": "closed"}).status_code == 422


def test_an_integrator_gets_the_private_link_of_a_technology_it_submits(api: TestClient) -> None:
    created = api.post("/v1/technologies", json=HYDROGEN_SUBMISSION, headers=AUTH).json()
    assert created["token"]
    assert api.get(f"/v1/submissions/{created['token']}").json()["technology"]["id"] == created["id"]
    assert "token" not in api.get(f"/v1/technologies/{created['id']}").json()


def test_deleting_a_technology_or_a_platform_leaves_nothing_of_the_loop_behind(
    api: TestClient, loop_rt
) -> None:  # type: ignore[no-untyped-def]
    from sqlmodel import select

    from matcher.engagements.models import Introduction, IntroductionEvent, PlatformResponse

    pair = submit_pair(api)
    api.put(pair.response_url, json={"decision": "interested"}, headers=pair.key)
    intro = api.post(
        f"/v1/submissions/{pair.token}/introductions", json={"platform_id": pair.platform_id}
    ).json()
    other = submit_pair(api, {**HYDROGEN_SUBMISSION, "contact": "c@example.edu.cn"})
    other_url = f"/v1/platforms/{other.other_platform_id}/technologies/{other.technology_id}/response"
    api.put(other_url, json={"decision": "declined", "reason": "other"}, headers=other.other_key)

    assert api.delete(f"/v1/technologies/{pair.technology_id}", headers=AUTH).status_code == 204
    assert api.get(f"/v1/introductions/{intro['id']}", headers=AUTH).status_code == 404
    assert api.get(f"/v1/submissions/{pair.token}").status_code == 404
    with loop_rt.session() as s:
        assert (
            s.exec(select(Introduction).where(Introduction.technology_id == pair.technology_id)).all() == []
        )
        assert (
            s.exec(select(IntroductionEvent).where(IntroductionEvent.introduction_id == intro["id"])).all()
            == []
        )
        assert (
            s.exec(select(PlatformResponse).where(PlatformResponse.technology_id == pair.technology_id)).all()
            == []
        )

    assert api.delete(f"/v1/platforms/{other.other_platform_id}", headers=AUTH).status_code == 204
    assert api.get(f"/v1/submissions/{other.token}").json()["responses"] == []
    with loop_rt.session() as s:
        assert (
            s.exec(
                select(PlatformResponse).where(PlatformResponse.platform_id == other.other_platform_id)
            ).all()
            == []
        )


def test_an_outcome_goes_only_with_completed_and_is_kept_on_its_event(api: TestClient) -> None:
    pair = submit_pair(api)
    api.put(pair.response_url, json={"decision": "interested"}, headers=pair.key)
    intro = api.post(
        f"/v1/submissions/{pair.token}/introductions", json={"platform_id": pair.platform_id}
    ).json()
    url = f"/v1/submissions/{pair.token}/introductions/{intro['id']}"
    early = api.patch(url, json={"outcome": "succeeded"})
    assert early.status_code == 422 and early.json()["errors"][0]["field"] == "outcome"
    assert api.get(url).json()["outcome"] is None
    for bad in ({"trl_reached": 0}, {"trl_reached": 10}, {"trl_reached": True}, {"status": None}, {"x": 1}):
        assert api.patch(url, json=bad).status_code == 422, bad
    done = api.patch(url, json={"status": "completed", "outcome": "abandoned"}).json()
    assert done["events"][-1]["outcome"] == "abandoned" and done["outcome"] == "abandoned"
    interested_with_reason = api.put(
        pair.response_url, json={"decision": "interested", "reason": "other"}, headers=pair.key
    )
    assert interested_with_reason.status_code == 422
    assert interested_with_reason.json()["errors"][0]["field"] == "reason"
    declined_without = api.put(pair.response_url, json={"decision": "declined"}, headers=pair.key)
    assert declined_without.json()["errors"][0]["field"] == "reason"


def test_a_decline_racing_an_introduction_request_never_shares_the_contact(api: TestClient) -> None:
    """The platform takes back its interest while the researcher asks: whichever lands first, the end state is
    consistent: introduced with the answer fixed as interested, or declined and no contact shared."""
    from concurrent.futures import ThreadPoolExecutor

    for _ in range(4):
        pair = submit_pair(api, {**HYDROGEN_SUBMISSION, "contact": f"race{_}@example.edu.cn"})
        api.put(pair.response_url, json={"decision": "interested"}, headers=pair.key)
        with ThreadPoolExecutor(2) as pool:
            decline = pool.submit(
                api.put, pair.response_url, json={"decision": "declined", "reason": "other"}, headers=pair.key
            )
            ask = pool.submit(
                api.post,
                f"/v1/submissions/{pair.token}/introductions",
                json={"platform_id": pair.platform_id},
            )
            declined, asked = decline.result(), ask.result()
        assert asked.status_code == 201 and declined.status_code in (200, 409)
        mine = api.get(f"/v1/submissions/{pair.token}").json()
        answer = next(r for r in mine["responses"] if r["platform_id"] == pair.platform_id)
        status = mine["introductions"][0]["status"]
        if declined.status_code == 200:
            assert answer["decision"] == "declined" and status == "declined"
            seen = api.get(f"/v1/introductions/{asked.json()['id']}", headers=pair.key).json()
            assert seen["technology"]["contact"] is None
        else:
            assert answer["decision"] == "interested" and status == "introduced"


def test_only_a_platform_that_fits_and_is_active_may_answer(small_client: TestClient) -> None:
    """A weak match is no fit, even on a network so small that every platform lists every technology; a
    deactivated platform answers nothing."""
    tech = small_client.post("/v1/technologies", json=HYDROGEN_SUBMISSION, headers=AUTH).json()
    platforms = {p["external_id"]: p["id"] for p in small_client.get("/v1/platforms").json()["items"]}
    fits = {m["platform_id"]: m["fit"] for m in tech["matches"]}
    steel, hydrogen = platforms["s-steel"], platforms["s-hydrogen"]
    assert fits[steel] == "weak" and fits[hydrogen] != "weak"
    url = "/v1/platforms/{}/technologies/" + str(tech["id"]) + "/response"
    weak = small_client.put(url.format(steel), json={"decision": "interested"}, headers=AUTH)
    assert weak.status_code == 404 and "fit" in weak.json()["detail"]
    asked = small_client.post(f"/v1/submissions/{tech['token']}/introductions", json={"platform_id": steel})
    assert asked.status_code == 404
    assert (
        small_client.patch(f"/v1/platforms/{hydrogen}", json={"active": False}, headers=AUTH).status_code
        == 200
    )
    idle = small_client.put(url.format(hydrogen), json={"decision": "interested"}, headers=AUTH)
    assert idle.status_code == 409 and "deactivated" in idle.json()["detail"]


def test_submissions_without_a_key_have_their_own_lower_limit(loop_rt) -> None:  # type: ignore[no-untyped-def]
    """Each submission is a stored technology platforms are told of: an address may send a few a minute, while
    its searches go on under the match limit."""
    from api.app import create_app

    app = create_app(
        settings=loop_rt.settings.model_copy(update={"submission_rate_limit": 2}), runtime=loop_rt
    )
    with TestClient(app) as api:
        sent = [api.post("/v1/submissions", json=HYDROGEN_SUBMISSION) for _ in range(3)]
        assert [r.status_code for r in sent] == [201, 201, 429]
        assert (
            "2 submissions a minute" in sent[2].json()["detail"] and int(sent[2].headers["retry-after"]) >= 1
        )
        assert (
            api.post("/v1/match", json={"text": HYDROGEN_SUBMISSION["summary"], "limit": 1}).status_code
            == 200
        )
        from tests.web.test_web_pages import HTML, csrf_of

        token = csrf_of(api.get("/?text=电解槽", headers=HTML).text)
        form = {"text": "电解槽电堆", "contact": "lab@example.edu.cn", "csrf_token": token}
        page = api.post("/technologies", data=form, headers=HTML)
        assert (
            page.status_code == 429 and "text/html" in page.headers["content-type"]
        )  # the web form shares it
