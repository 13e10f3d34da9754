"""`pilotmatch report funnel` and `pilotmatch report activity` read the database the API reads, and print the
same figures. The loop is described in tests/reports/conftest.py."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from api.cli import app
from tests.conftest import AUTH
from tests.reports.conftest import Loop

runner = CliRunner()


def test_report_commands_print_what_the_api_answers(loop: Loop, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PILOTMATCH_DATABASE_URL", loop.rt.settings.database_url)
    env = {"COLUMNS": "120", "NO_COLOR": "1"}
    table = runner.invoke(app, ["report", "funnel"], env=env)
    assert table.exit_code == 0, table.output
    assert "Succeeded" in table.output and "Median response time: 2 h" in table.output
    assert "│    12 │" in table.output  # matched
    printed = runner.invoke(app, ["report", "funnel", "--json", "--province", "江苏"], env=env)
    assert printed.exit_code == 0, printed.output
    answer = loop.api.get("/v1/reports/funnel", params={"province": "江苏"}).json()
    assert json.loads(printed.output) | {"generated_at": None} == answer | {"generated_at": None}
    csv_out = runner.invoke(app, ["report", "funnel", "--csv", "--since", "2020-01-11"], env=env)
    assert csv_out.output == loop.api.get("/v1/reports/funnel?format=csv&since=2020-01-11").text

    dormant = runner.invoke(app, ["report", "activity", "--dormant", "--json"], env=env)
    assert dormant.exit_code == 0, dormant.output
    assert [p["platform_id"] for p in json.loads(dormant.output)["platforms"]] == [loop.platforms["S"]]
    listed = runner.invoke(app, ["report", "activity", "--sort", "response_rate"], env=env)
    assert listed.exit_code == 0 and "先进高强钢热轧中试线" in listed.output and "never" in listed.output
    api_rows = loop.api.get("/v1/reports/platform-activity?format=csv", headers=AUTH).text
    assert runner.invoke(app, ["report", "activity", "--csv"], env=env).output == api_rows

    wrong = runner.invoke(app, ["report", "funnel", "--tier", "gold", "--until", "2020-02-30"], env=env)
    assert wrong.exit_code == 2 and "--tier" in wrong.output and "--until" in wrong.output
    assert runner.invoke(app, ["report", "activity", "--sort", "contact"], env=env).exit_code == 2
