"""The pilotmatch CLI, run in-process against a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app
from matcher import Runtime, Settings, authenticate
from matcher.db import create_db_engine
from tests.conftest import ADMIN_KEY, AUTH, copy_demo, make_settings

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PILOTMATCH_DATABASE_URL", make_settings(tmp_path).database_url)
    monkeypatch.setenv("PILOTMATCH_INDEX_DIR", str(tmp_path / "indexes"))
    monkeypatch.delenv("PILOTMATCH_ADMIN_KEY", raising=False)
    return tmp_path


def test_import_match_reindex_round_trip(env: Path) -> None:
    data = env / "platforms.jsonl"
    rows = [
        {
            "external_id": f"cli-{i}",
            "name": name,
            "tier": "provincial",
            "area": "emerging_future",
            "capabilities": caps,
        }
        for i, (name, caps) in enumerate(
            [
                ("钠离子电池中试线", "层状氧化物正极与硬碳负极的公斤级合成、软包电池试制与循环测试。"),
                (
                    "Quantum Sensing Pilot Lab",
                    "Packaging and field testing of optically pumped magnetometers.",
                ),
            ]
        )
    ]
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["import", "platforms", str(data)])
    assert result.exit_code == 0, result.output
    assert "Imported 2 platforms" in result.output
    # Re-running an import updates instead of duplicating.
    assert runner.invoke(app, ["import", "platforms", str(data)]).exit_code == 0

    result = runner.invoke(app, ["match", "sodium-ion battery cathode scale-up", "--json", "--limit", "5"])
    assert result.exit_code == 0, result.output
    matches = json.loads(result.output[result.output.index("{") :])["matches"]
    assert len(matches) == 2
    assert matches[0]["name"] == "钠离子电池中试线"

    table = runner.invoke(app, ["match", "量子磁力计外场测试"])
    assert table.exit_code == 0 and "Quantum" in table.output
    assert "--direction" in table.output  # the hint names an option that exists
    chosen = runner.invoke(app, ["match", "量子磁力计外场测试", "--direction", "quantum", "--json"])
    assert chosen.exit_code == 0, chosen.output
    assert json.loads(chosen.output[chosen.output.index("{") :])["matches"]
    unknown = runner.invoke(app, ["match", "量子磁力计外场测试", "--direction", "nonsense"])
    assert unknown.exit_code == 2 and "nonsense" in unknown.output

    result = runner.invoke(app, ["reindex"])
    assert result.exit_code == 0, result.output
    assert "Rebuilt: 2 platforms" in result.output


def test_import_reports_every_error_of_every_bad_line_and_stores_nothing(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unknown codes (direction and province included), a reversed TRL range, a line that is not JSON and an
    external_id used twice: each with its line number and field, in one run; nothing is stored."""
    monkeypatch.chdir(env)  # a short file name, so each message stays on one line of the report
    good = {
        "external_id": "g-1",
        "name": "好平台",
        "tier": "reserve",
        "area": "equipment",
        "capabilities": "数控机床验证",
    }
    lines = [
        json.dumps(good),
        json.dumps(good | {"external_id": "g-2", "tier": "platinum", "directions": ["steel", "nope"]})[:-1]
        + ', "province": "Atlantis"}',
        json.dumps(good | {"external_id": "g-3", "area": "mining", "trl_min": 8, "trl_max": 3}),
        "{not json",
        "",
        json.dumps(good),
        "[1, 2]",
    ]
    Path("bad.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["import", "platforms", "bad.jsonl"])
    assert result.exit_code == 2, result.output
    report = " ".join(result.output.split())
    assert "5 lines of bad.jsonl are invalid; nothing was stored" in report
    for expected in (
        "bad.jsonl:2: tier: Unknown tier 'platinum'",
        "bad.jsonl:2: directions[1]: Unknown industry direction 'nope'",
        "bad.jsonl:2: province: Unknown province 'Atlantis'",
        "bad.jsonl:3: area: Unknown area 'mining'",
        "bad.jsonl:3: trl_min: trl_min (8) must not be greater than trl_max (3)",
        "bad.jsonl:4: not valid JSON",
        "bad.jsonl:6: external_id: external_id 'g-1' is already on line 1",
        "bad.jsonl:7: Input should be a valid dictionary",
    ):
        assert expected in report, expected
    assert "bad.jsonl:1:" not in report
    listed = runner.invoke(app, ["match", "数控机床", "--json"])
    assert json.loads(listed.output[listed.output.index("{") :])["matches"] == []


def test_hostile_import_lines_are_reported_without_a_crash_or_terminal_escapes(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line nested too deeply for the JSON parser is an error on its line, not a traceback; a field name with
    an escape sequence is shown escaped, so the file cannot clear or retitle the terminal."""
    monkeypatch.chdir(env)
    good = {"name": "好平台", "tier": "reserve", "area": "equipment", "capabilities": "数控机床验证"}
    lines = ["[" * 100_000 + "]" * 100_000, json.dumps(good | {"\u001b[2Jkey": 1})]
    Path("hostile.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["import", "platforms", "hostile.jsonl"])
    assert result.exit_code == 2, result.output
    report = " ".join(result.output.split())
    assert "hostile.jsonl:1: not valid JSON (nested too deeply)" in report
    assert "\x1b" not in result.output and "\\u001b[2Jkey" in report


def test_bad_import_line_is_reported_and_nothing_is_stored(env: Path) -> None:
    data = env / "bad.jsonl"
    good = {"name": "好平台", "tier": "reserve", "area": "equipment", "capabilities": "数控机床验证"}
    bad = good | {"tier": "platinum"}
    data.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["import", "platforms", str(data)])
    assert result.exit_code == 2
    assert "platinum" in result.output
    listed = runner.invoke(app, ["match", "数控机床", "--json"])
    assert json.loads(listed.output[listed.output.index("{") :])["matches"] == []


def test_admin_key_is_created_once_and_rotated(env: Path) -> None:
    first = runner.invoke(app, ["admin-key"])
    assert first.exit_code == 0 and "pm_admin_" in first.output
    assert runner.invoke(app, ["admin-key"]).exit_code == 1
    rotated = runner.invoke(app, ["admin-key", "--rotate"])
    assert rotated.exit_code == 0 and "pm_admin_" in rotated.output
    settings = Settings()
    db = create_db_engine(settings.database_url)
    issued = runner.invoke(app, ["admin-key", "--province", "江苏", "--label", "Jiangsu industry department"])
    assert issued.exit_code == 0 and "for jiangsu" in issued.output
    # The key is printed on one line, whatever the terminal's width (80 columns here); the log says who issued it.
    (line,) = issued.stdout.strip().splitlines()
    assert "event=admin_key_issued" in issued.stderr and "by=cli" in issued.stderr
    principal = authenticate(db, settings, line.split()[-1])
    assert principal is not None and (principal.role, principal.province) == ("province", "jiangsu")

    # A labelled full key for another administrator; a label is required with either, and names nothing else.
    full = runner.invoke(app, ["admin-key", "--full", "--label", "Network office, second desk"])
    assert full.exit_code == 0, full.output
    (line,) = full.stdout.strip().splitlines()
    principal = authenticate(db, settings, line.split()[-1])
    assert principal is not None and principal.role == "admin" and principal.key_id is not None
    for options, says in (
        (["--province", "江苏"], "--label is required"),
        (["--full"], "--label is required"),
        (["--label", "Second full admin"], "--label names a key issued with --province or --full"),
        (["--full", "--province", "江苏", "--label", "x"], "not both"),
        (["--rotate", "--full", "--label", "x"], "--rotate replaces the admin key"),
        (["--province", "Atlantis", "--label", "x"], "Unknown province"),
    ):
        refused = runner.invoke(app, ["admin-key", *options])
        assert refused.exit_code == 2 and says in refused.output, (options, refused.output)


def test_help_teaches_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "seed-demo", "import", "reindex", "match", "admin-key"):
        assert command in result.output


def _platform_ids(c: object) -> list[int]:
    ids: list[int] = []
    cursor = None
    while True:
        page = c.get("/v1/platforms", params={"limit": 200} | ({"cursor": cursor} if cursor else {})).json()  # type: ignore[attr-defined]
        ids += [p["id"] for p in page["items"]]
        if not (cursor := page["next_cursor"]):
            return ids


@pytest.mark.backend_independent  # seeding twice is the slow part; the SQL is the same on both backends
def test_seed_demo_fills_only_an_empty_database_and_reset_goes_back(
    env: Path, demo_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second `make run` must not undo an operator's work: seeding a database that has platforms changes
    nothing; `seed-demo --reset --yes` is the explicit way back to the demo."""
    # Start from a copy of the seeded demo (the first `seed-demo` of a `make run`), database and snapshots.
    monkeypatch.setenv("PILOTMATCH_DATABASE_URL", copy_demo(demo_runtime, env))
    settings = Settings(admin_key=ADMIN_KEY)
    with Runtime.open(settings) as rt, TestClient(create_app(runtime=rt)) as c:
        ids = _platform_ids(c)
        edit = {"capacity": 99, "contact": "ops@example.cn"}
        assert c.patch(f"/v1/platforms/{ids[0]}", json=edit, headers=AUTH).status_code == 200
        assert c.delete(f"/v1/platforms/{ids[1]}", headers=AUTH).status_code == 204

    again = runner.invoke(app, ["seed-demo"])
    assert again.exit_code == 0 and "nothing was changed" in " ".join(again.output.split())
    with Runtime.open(settings) as rt, TestClient(create_app(runtime=rt)) as c:
        kept = c.get(f"/v1/platforms/{ids[0]}").json()
        assert (kept["capacity"], kept["contact"]) == (99, "ops@example.cn")
        assert c.get(f"/v1/platforms/{ids[1]}").status_code == 404
        assert len(_platform_ids(c)) == len(ids) - 1

    refused = runner.invoke(app, ["seed-demo", "--reset"], input="n\n")
    assert refused.exit_code == 1
    reset = runner.invoke(app, ["seed-demo", "--reset", "--yes"])
    assert reset.exit_code == 0, reset.output
    with Runtime.open(settings) as rt, TestClient(create_app(runtime=rt)) as c:
        demo = _platform_ids(c)
        assert len(demo) == len(ids) and min(demo) > max(ids)  # all of the demo, under new ids
        assert c.get(f"/v1/platforms/{ids[0]}").status_code == 404


# ---- pilotmatch match on the demo -------------------------------------------------------------------------------
@pytest.fixture
def demo_env(env: Path, demo_runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI pointed at a copy of the seeded demo (database and index snapshots)."""
    monkeypatch.setenv("PILOTMATCH_DATABASE_URL", copy_demo(demo_runtime, env))
    return env


def _json(output: str) -> dict:
    return json.loads(output[output.index("{") :])


@pytest.mark.backend_independent
def test_match_json_is_what_the_api_answers_for_the_same_request(demo_env: Path, client: TestClient) -> None:
    text = "高镍三元正极材料烧结工艺放大，需要百吨级中试线验证"
    options = ["--limit", "6", "--trl", "5", "--province", "湖南", "--service-type", "process"]
    filtered = [
        *options,
        "--tier",
        "national",
        "--tier",
        "key_cultivated",
        "--direction",
        "new_energy_storage",
    ]
    requests = [
        ({"text": text, "limit": 6, "trl": 5, "province": "湖南", "service_types": ["process"]}, options),
        (
            {
                "text": text,
                "limit": 6,
                "trl": 5,
                "province": "湖南",
                "service_types": ["process"],
                "tier": ["national", "key_cultivated"],
                "directions": ["new_energy_storage"],
            },
            filtered,
        ),
    ]
    for body, args in requests:
        api = client.post("/v1/match", json=body)
        assert api.status_code == 200, api.text
        result = runner.invoke(app, ["match", text, "--json", *args])
        assert result.exit_code == 0, result.output
        cli = _json(result.output)
        assert cli.keys() == api.json().keys()
        assert [m.keys() for m in cli["matches"]] == [m.keys() for m in api.json()["matches"]]
        assert [(m["platform_id"], m["score"], m["fit"]) for m in cli["matches"]] == [
            (m["platform_id"], m["score"], m["fit"]) for m in api.json()["matches"]
        ]
        assert cli == api.json()
        assert cli["matches"], body
    tiers = {
        m["tier"] for m in _json(runner.invoke(app, ["match", text, "--json", *filtered]).output)["matches"]
    }
    assert tiers <= {"national", "key_cultivated"}


def _platform_column(table: str) -> str:
    """The text of the last column of a rich table (between the last two vertical bars of each line)."""
    cells = [line.rsplit("│", 2)[1] for line in table.splitlines() if line.count("│") >= 3]
    return "".join("".join(cells).split())


@pytest.mark.backend_independent
def test_match_table_keeps_names_whole_at_80_columns_shows_fit_and_no_empty_bars(demo_env: Path) -> None:
    text = "高镍三元正极材料烧结工艺放大，需要百吨级中试线验证"
    options = ["--limit", "8", "--include-weak"]
    matches = _json(runner.invoke(app, ["match", text, "--json", *options]).output)["matches"]
    assert any(len(m["name"]) > 15 for m in matches)
    result = runner.invoke(app, ["match", text, *options], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    assert "…" not in result.output
    column = _platform_column(result.output)
    for m in matches:
        assert "".join(m["name"].split()) in column, m["name"]  # wrapped perhaps, never cut
        assert f"{m['score']:.3f}" in result.output
    fits = [line.split("│")[3].strip() for line in result.output.splitlines() if line.count("│") >= 5]
    assert [f for f in fits if f] == [m["fit"] for m in matches]
    # Nothing to index: no progress bar at all (it showed "Loading ━━━ 0/?" on every command).
    assert "Loading" not in result.output and "0/?" not in result.output


def test_match_prints_text_with_brackets_as_it_is(demo_env: Path) -> None:
    """The table's title shows the text literally: "[/bold]" in a summary is not markup (it crashed the CLI)."""
    result = runner.invoke(app, ["match", "yogurt [/bold] fermentation [red]probiotic", "--limit", "1"])
    assert result.exit_code == 0, result.output
    assert "[/bold]" in result.output and "[red]" in result.output


@pytest.mark.backend_independent
def test_match_names_every_invalid_option_at_once_with_the_valid_codes(demo_env: Path) -> None:
    args = ["--tier", "gold", "--area", "mining", "--province", "Atlantis", "--direction", "nope"]
    result = runner.invoke(app, ["match", "钢", *args, "--service-type", "testing", "--trl", "12"])
    assert result.exit_code == 2
    report = " ".join(result.output.split())
    for option, message in (
        ("--tier", "Unknown tier 'gold'. Valid codes: national, key_cultivated"),
        ("--area", "Unknown area 'mining'. Valid codes: raw_materials"),
        ("--province", "Unknown province 'Atlantis'. Use one of: beijing"),
        ("--direction", "Unknown industry direction 'nope'. Valid codes: petrochemicals"),
        ("--service-type", "Unknown service type 'testing'. Valid codes: design"),
        ("--trl", "Input should be less than or equal to 9"),
    ):
        assert f"{option}: {message}" in report, option
    assert "Loading" not in result.output  # refused before the model is loaded


@pytest.mark.backend_independent
def test_match_states_the_verdict_and_left_out_weak_fits_as_the_api_answers(
    demo_env: Path, client: TestClient
) -> None:
    """Nothing fits: the table is followed by the verdict and the note that weak fits were left out;
    ``--include-weak`` lists them, and ``--json`` is what /v1/match answers with ``include_weak``."""
    text = (
        "We bred a tilapia line resistant to streptococcal disease by marker-assisted selection over four "
        "generations. We now need pond trials with farmers across two seasons to confirm growth and survival."
    )
    table = runner.invoke(app, ["match", text], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "No platform fits this well: unmet demand" in table.output
    assert "were left out (--include-weak shows them)" in table.output
    assert "calibration" not in table.output  # the Fit column says it, not a "why" factor
    every = _json(runner.invoke(app, ["match", text, "--include-weak", "--json"]).output)
    api = client.post("/v1/match", json={"text": text, "include_weak": True}).json()
    assert every == api and every["unmet_demand"] is True
    assert len(every["matches"]) > len(_json(runner.invoke(app, ["match", text, "--json"]).output)["matches"])
    fits = runner.invoke(
        app, ["match", "高镍三元正极材料烧结工艺放大，需要百吨级中试线验证"], env={"COLUMNS": "200"}
    )
    assert "unmet demand" not in fits.output
