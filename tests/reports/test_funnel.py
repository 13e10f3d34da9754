"""The funnel counts the loop built through the API, stage by stage, under every filter, as JSON and CSV, and
never shows a researcher's contact. The loop is described in tests/reports/conftest.py."""

from __future__ import annotations

import csv
import io

from tests.reports.conftest import CONTACTS, Loop

ALL = [12, 10, 4, 2, 2, 2, 2, 1, 1]


def counts(loop: Loop, **params: str) -> list[int]:
    r = loop.api.get("/v1/reports/funnel", params=params)
    assert r.status_code == 200, r.text
    return [s["count"] for s in r.json()["stages"]]


def test_funnel_counts_each_stage_of_the_loop(loop: Loop) -> None:
    r = loop.api.get("/v1/reports/funnel")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    report = r.json()
    assert [s["stage"] for s in report["stages"]] == [
        "matched",
        "notified",
        "responded",
        "interested",
        "introduced",
        "agreed",
        "piloting",
        "completed",
        "succeeded",
    ]
    # 12 pairs; 2 notifications deleted; 4 answers, 2 interested; both introduced, T2 skipped agreed but
    # reached piloting before it was withdrawn; T1 completed and succeeded.
    assert [s["count"] for s in report["stages"]] == ALL
    conversion = report["conversion"]
    assert conversion["matched_to_notified"] == round(10 / 12, 4)
    # The answer to T3/A came without a notification: 3 of the 10 notified pairs were answered.
    assert conversion["notified_to_responded"] == 0.3
    assert conversion["responded_to_interested"] == 0.5
    assert conversion["interested_to_introduced"] == conversion["introduced_to_agreed"] == 1.0
    assert conversion["piloting_to_completed"] == 0.5 and conversion["completed_to_succeeded"] == 1.0
    assert conversion["matched_to_succeeded"] == round(1 / 12, 4)
    assert len(conversion) == 15
    assert report["median_response_hours"] == 2.0  # 1 h, 2 h and 5 h; T3/A had no notification
    by_area = {a["area"]: [s["count"] for s in a["stages"]] for a in report["by_area"]}
    assert list(by_area) == [
        "raw_materials",
        "equipment",
        "consumer_goods",
        "information_technology",
        "emerging_future",
        "common_needs",
    ]
    assert by_area["emerging_future"] == [4, 4, 2, 1, 1, 1, 1, 1, 1]
    assert by_area["consumer_goods"] == [4, 3, 2, 1, 1, 1, 1, 0, 0]
    assert by_area["raw_materials"] == [4, 3, 0, 0, 0, 0, 0, 0, 0] and by_area["equipment"] == [0] * 9


def test_each_filter_narrows_the_pairs(loop: Loop) -> None:
    # T1's pairs entered the funnel on 2020-01-10: a date `until` counts that whole day, `since` starts the next.
    assert counts(loop, until="2020-01-10") == [3, 3, 1, 1, 1, 1, 1, 1, 1]
    assert counts(loop, until="2020-01-10T08:00:00Z") == [0] * 9  # a date-time `until` is exclusive
    assert counts(loop, since="2020-01-10T16:00:00+08:00") == ALL  # the same moment in another zone
    window = loop.api.get("/v1/reports/funnel", params={"since": "2020-01-11"}).json()
    assert [s["count"] for s in window["stages"]] == [9, 7, 3, 1, 1, 1, 1, 0, 0]
    assert window["median_response_hours"] == 3.5 and window["filters"]["since"] == "2020-01-11T00:00:00Z"
    # Platform filters: the hydrogen platform's area, the steel platform's tier, the antibody platform's
    # province (by its Chinese name).
    assert counts(loop, area="emerging_future") == [4, 4, 2, 1, 1, 1, 1, 1, 1]
    assert counts(loop, tier="national") == [4, 3, 0, 0, 0, 0, 0, 0, 0]
    assert counts(loop, province="江苏") == [4, 3, 2, 1, 1, 1, 1, 0, 0]
    # Direction: the technology's (T1, T3) or the platform's (H's pairs with T2 and T4).
    assert counts(loop, direction="hydrogen") == [8, 7, 3, 1, 1, 1, 1, 1, 1]
    assert counts(loop, direction="steel") == [6, 5, 0, 0, 0, 0, 0, 0, 0]
    assert counts(loop, direction="quantum", area="") == [0] * 9
    assert counts(loop, area="emerging_future", direction="hydrogen", since="2020-01-11") == [
        3,
        3,
        1,
        0,
        0,
        0,
        0,
        0,
        0,
    ]


def test_bad_filters_are_problems_naming_the_field(loop: Loop) -> None:
    cases = {
        "area": {"area": "nowhere"},
        "direction": {"direction": "alchemy"},
        "tier": {"tier": "gold"},
        "province": {"province": "Atlantis"},
        "since": {"since": "2026-02-30"},
        "until": {"since": "2026-03-01", "until": "2026-02-01"},
    }
    # Only the documented forms, and only real days: no Unix times, no day after 9999-12-31.
    for name, value in (("since", "1700000000"), ("until", "-1"), ("until", "9999-12-31")):
        r = loop.api.get("/v1/reports/funnel", params={name: value})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == name, (name, value, r.text)
    for name, params in cases.items():
        r = loop.api.get("/v1/reports/funnel", params=params)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", (
            name,
            r.text,
        )
        assert [e["field"] for e in r.json()["errors"]] == [name], r.text
    unknown = loop.api.get("/v1/reports/funnel", params={"tier": "gold"}).json()["errors"][0]
    assert unknown["value"] == "gold" and "national" in unknown["allowed"]
    assert loop.api.get("/v1/reports/funnel", params={"format": "xml"}).status_code == 422


def test_funnel_csv_has_a_row_per_area_and_direction_with_the_same_counts(loop: Loop) -> None:
    r = loop.api.get("/v1/reports/funnel", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert 'filename="pilotmatch-funnel.csv"' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 1 + 6 + 37
    stages = list(rows[0])[2:]

    def row(area: str, direction: str) -> list[int]:
        found = next(x for x in rows if (x["area"], x["direction"]) == (area, direction))
        return [int(found[s]) for s in stages]

    assert row("all", "all") == ALL
    assert row("emerging_future", "all") == counts(loop, area="emerging_future")
    assert row("emerging_future", "hydrogen") == counts(loop, direction="hydrogen")
    assert row("consumer_goods", "biomedicine") == counts(loop, direction="biomedicine")
    filtered = list(
        csv.DictReader(io.StringIO(loop.api.get("/v1/reports/funnel?format=csv&tier=national").text))
    )
    assert [int(filtered[0][s]) for s in stages] == counts(loop, tier="national")


def test_reports_never_show_a_researchers_contact(loop: Loop) -> None:
    from tests.conftest import AUTH

    seen = [
        loop.api.get("/v1/reports/funnel").text,
        loop.api.get("/v1/reports/funnel", params={"format": "csv"}).text,
        loop.api.get("/v1/reports/platform-activity", headers=AUTH).text,
        loop.api.get("/v1/reports/platform-activity", params={"format": "csv"}, headers=AUTH).text,
    ]
    for text in seen:
        for contact in CONTACTS:
            assert contact not in text
            assert contact.encode("unicode_escape").decode() not in text


def test_counts_that_narrow_to_a_few_platforms_are_the_admins_alone(loop: Loop) -> None:
    """Filters that leave one or two platforms would show single platforms' activity, which platform activity
    (admin) holds: callers without the admin key are refused such a funnel, and such an area's counts are
    withheld from them."""
    from matcher import funnel_report
    from matcher.errors import Forbidden
    from matcher.reports.schemas import ReportFilters

    db, tax = loop.rt.db, loop.rt.taxonomy
    whole = funnel_report(db, tax, ReportFilters(), min_platforms=3)
    assert [s.count for s in whole.stages] == ALL  # three platforms: the whole funnel is open
    withheld = {a.area for a in whole.by_area if a.withheld}
    assert withheld == {"raw_materials", "consumer_goods", "emerging_future"}  # one platform each
    assert all({s.count for s in a.stages} == {0} for a in whole.by_area if a.withheld)
    try:
        funnel_report(db, tax, ReportFilters(tier="national"), min_platforms=3)
        raise AssertionError("a one-platform funnel was shown")
    except Forbidden as exc:
        assert "admin" in exc.detail
    assert funnel_report(db, tax, ReportFilters(tier="national"), min_platforms=0).stages[0].count > 0
