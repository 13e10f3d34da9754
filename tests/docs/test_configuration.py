"""docs/configuration.md is generated from the Settings class; it must say what the code does."""

from __future__ import annotations

from pathlib import Path

import pytest

from matcher.settings import Settings
from scripts import settings_doc

pytestmark = pytest.mark.backend_independent


def test_configuration_page_matches_the_settings_class() -> None:
    assert settings_doc.main(["--check"]) == 0, (
        "docs/configuration.md differs from matcher/settings.py: run python scripts/settings_doc.py"
    )


def test_check_fails_on_a_stale_page_and_passes_once_written(tmp_path: Path) -> None:
    page = tmp_path / "configuration.md"
    page.write_text(
        settings_doc.render().replace("PILOTMATCH_MATCH_QUEUE", "PILOTMATCH_GONE"), encoding="utf-8"
    )
    assert settings_doc.main(["--check", "--output", str(page)]) == 1
    assert settings_doc.main(["--output", str(page)]) == 0
    assert settings_doc.main(["--check", "--output", str(page)]) == 0


def _row(page: str, variable: str) -> str:
    return next(line for line in page.splitlines() if line.startswith(f"| `{variable}` |"))


def test_every_setting_is_listed_with_its_default() -> None:
    page = settings_doc.render()
    for name, info in Settings.model_fields.items():
        group = info.default
        if name in ("rank", "fusion"):
            for nested, nested_info in type(group).model_fields.items():
                row = _row(page, f"PILOTMATCH_{name.upper()}__{nested.upper()}")
                default = nested_info.default
                assert ("| unset |" if default is None else f"`{default}`") in row
            continue
        row = _row(page, f"PILOTMATCH_{name.upper()}")
        if info.default is None:
            assert "| unset |" in row
        elif isinstance(info.default, bool):
            assert f"`{str(info.default).lower()}`" in row
        elif not isinstance(info.default, Path):
            assert f"`{info.default}`" in row
