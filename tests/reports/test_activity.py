"""The platform-activity report: the funnel split by platform, for the admin key only, with the dormant list,
sorting and CSV. The loop is described in tests/reports/conftest.py."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from tests.conftest import AUTH
from tests.reports.conftest import Loop

URL = "/v1/reports/platform-activity"


def activity(loop: Loop, **params: str) -> list[dict]:
    r = loop.api.get(URL, params=params, headers=AUTH)
    assert r.status_code == 200, r.text
    return r.json()["platforms"]


def test_only_the_admin_key_reads_platform_activity(loop: Loop) -> None:
    assert loop.api.get(URL).status_code == 401
    refused = loop.api.get(URL, headers=loop.keys["H"])
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
    assert loop.api.get(URL, params={"format": "csv"}, headers=loop.keys["S"]).status_code == 403


def test_each_platform_counts_its_own_pairs(loop: Loop) -> None:
    h, a, s = (loop.platforms[p] for p in "HAS")
    rows = activity(loop)
    assert [r["platform_id"] for r in rows] == [h, a, s]  # most notified first, then by id
    by_id = {r["platform_id"]: r for r in rows}
    assert by_id[h] | {"last_active_at": None} == {
        "platform_id": h,
        "name": "PEM电解水制氢中试平台",
        "tier": "key_cultivated",
        "province": "guangdong",
        "notified": 4,
        "responded": 2,
        "response_rate": 0.5,
        "median_response_hours": 3.0,  # 1 h and 5 h
        "interested": 1,
        "introduced": 1,
        "completed": 1,
        "succeeded": 1,
        "last_active_at": None,
    }
    # A answered T3 without a notification: 1 of the 3 technologies it was notified of was answered.
    assert (by_id[a]["notified"], by_id[a]["responded"], by_id[a]["response_rate"]) == (3, 2, 0.3333)
    assert (by_id[a]["median_response_hours"], by_id[a]["introduced"], by_id[a]["completed"]) == (2.0, 1, 0)
    assert (by_id[s]["notified"], by_id[s]["responded"], by_id[s]["response_rate"]) == (3, 0, 0.0)
    assert by_id[s]["median_response_hours"] is None and by_id[s]["last_active_at"] is None
    # Its own latest act: H's last answer (the researcher completed T1 after it: not H's act), and the admin's
    # withdrawal on A's behalf.
    assert datetime.fromisoformat(by_id[h]["last_active_at"]) == loop.last_active["H"]
    assert datetime.fromisoformat(by_id[a]["last_active_at"]) == loop.last_active["A"]
    funnel = loop.api.get("/v1/reports/funnel").json()["stages"]
    assert sum(r["notified"] for r in rows) == funnel[1]["count"]
    assert sum(r["responded"] for r in rows) == funnel[2]["count"]
    # The same filters as the funnel.
    assert [r["platform_id"] for r in activity(loop, area="emerging_future")] == [h]
    early = activity(loop, until="2020-01-10")
    assert [(r["platform_id"], r["notified"], r["responded"]) for r in early] == [
        (h, 1, 1),
        (a, 1, 0),
        (s, 1, 0),
    ]
    assert activity(loop, direction="quantum") == []


def test_dormant_lists_platforms_notified_three_times_that_answered_none(loop: Loop) -> None:
    s = loop.platforms["S"]
    assert [r["platform_id"] for r in activity(loop, dormant="true")] == [s]
    # Since 2020-01-11 the steel platform was notified twice only.
    assert activity(loop, dormant="true", since="2020-01-11") == []
    assert loop.api.get(URL, params={"dormant": "maybe"}, headers=AUTH).status_code == 422


def test_activity_sorts_and_exports_csv(loop: Loop) -> None:
    h, a, s = (loop.platforms[p] for p in "HAS")
    assert [r["platform_id"] for r in activity(loop, sort="response_rate")] == [s, a, h]
    assert [r["platform_id"] for r in activity(loop, sort="-response_rate")] == [h, a, s]
    # A platform without a value comes last, in either direction.
    assert [r["platform_id"] for r in activity(loop, sort="median_response_hours")] == [a, h, s]
    assert [r["platform_id"] for r in activity(loop, sort="-median_response_hours")] == [h, a, s]
    bad = loop.api.get(URL, params={"sort": "contact"}, headers=AUTH)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "sort"

    r = loop.api.get(URL, params={"format": "csv", "sort": "response_rate"}, headers=AUTH)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    report = activity(loop, sort="response_rate")
    assert list(rows[0]) == list(report[0])
    assert [int(x["platform_id"]) for x in rows] == [s, a, h]
    assert rows[0]["median_response_hours"] == "" and rows[2]["response_rate"] == "0.5"


def test_a_platform_name_never_runs_as_a_spreadsheet_formula(loop: Loop) -> None:
    from tests.conftest import AUTH

    pid = next(iter(loop.platforms.values()))
    name = loop.api.get(f"/v1/platforms/{pid}").json()["name"]
    try:
        assert (
            loop.api.patch(
                f"/v1/platforms/{pid}", json={"name": '=HYPERLINK("http://x")'}, headers=AUTH
            ).status_code
            == 200
        )
        text = loop.api.get("/v1/reports/platform-activity", params={"format": "csv"}, headers=AUTH).text
        assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text
    finally:
        loop.api.patch(f"/v1/platforms/{pid}", json={"name": name}, headers=AUTH)
