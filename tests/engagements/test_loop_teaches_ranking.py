"""What the platforms' answers teach the ranking: a pair judged the wrong sector or process is not suggested to
that researcher again; a platform out of capacity loses its capacity bonus until it states free slots again."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import AUTH
from tests.engagements.conftest import HYDROGEN_SUBMISSION, submit_pair


def _matched(api: TestClient, token: str) -> list[int]:
    return [m["platform_id"] for m in api.get(f"/v1/submissions/{token}").json()["matches"]]


def test_a_wrong_sector_decline_takes_the_platform_out_of_that_researchers_matches(api: TestClient) -> None:
    pair = submit_pair(api)
    stranger = pair.other_platform_id
    assert stranger in _matched(api, pair.token)
    url = f"/v1/platforms/{stranger}/technologies/{pair.technology_id}/response"
    assert (
        api.put(
            url, json={"decision": "declined", "reason": "wrong_sector"}, headers=pair.other_key
        ).status_code
        == 200
    )
    assert stranger not in _matched(api, pair.token)
    assert stranger not in [
        m["platform_id"] for m in api.get(f"/v1/technologies/{pair.technology_id}/matches").json()["matches"]
    ]
    refused = api.post(f"/v1/submissions/{pair.token}/introductions", json={"platform_id": stranger})
    assert refused.status_code == 404  # it said the pair does not fit: no longer one to ask for
    # Another researcher with the same need still sees it: the judgment is of the pair, not of the platform.
    again = submit_pair(api, {**HYDROGEN_SUBMISSION, "contact": "b@example.edu.cn"})
    assert stranger in _matched(api, again.token)
    # A scale decline is about the moment, not the pair: the platform stays suggested.
    other_url = f"/v1/platforms/{again.platform_id}/technologies/{again.technology_id}/response"
    api.put(other_url, json={"decision": "declined", "reason": "wrong_scale"}, headers=again.key)
    assert again.platform_id in _matched(api, again.token)


def test_no_capacity_zeroes_the_capacity_factor_until_capacity_is_raised(api: TestClient) -> None:
    pair = submit_pair(api)
    query = {"text": HYDROGEN_SUBMISSION["summary"], "limit": 3}

    def capacity() -> float:
        found = api.post("/v1/match", json=query).json()["matches"]
        return next(m["explanation"]["capacity"] for m in found if m["platform_id"] == pair.platform_id)

    before = capacity()
    assert before > 0
    assert (
        api.put(
            pair.response_url, json={"decision": "declined", "reason": "no_capacity"}, headers=pair.key
        ).status_code
        == 200
    )
    assert capacity() == 0
    paused = api.get(f"/v1/platforms/{pair.platform_id}/history", headers=AUTH).json()[0]
    assert (paused["action"], paused["actor"]["kind"]) == ("capacity_paused", "platform_key")
    # An edit that states no slots keeps it paused; one with free slots ends the pause.
    assert (
        api.patch(f"/v1/platforms/{pair.platform_id}", json={"city": "深圳"}, headers=pair.key).status_code
        == 200
    )
    assert capacity() == 0
    assert (
        api.patch(f"/v1/platforms/{pair.platform_id}", json={"capacity": 4}, headers=pair.key).status_code
        == 200
    )
    assert capacity() > 0
    assert api.get(f"/v1/platforms/{pair.platform_id}", headers=AUTH).json()["capacity"] == 4
