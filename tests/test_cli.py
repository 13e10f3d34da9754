"""The pilotmatch CLI, run in-process against a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from tests.conftest import make_settings

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

    result = runner.invoke(app, ["reindex"])
    assert result.exit_code == 0, result.output
    assert "Rebuilt: 2 platforms" in result.output


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


def test_help_teaches_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "seed-demo", "import", "reindex", "match", "admin-key"):
        assert command in result.output
