"""docs/api.md lists every route of the OpenAPI document, and /metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.app import create_app
from tests.conftest import make_settings
from tests.docs.examples import ROOT

pytestmark = pytest.mark.backend_independent


def test_api_page_lists_every_route(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))  # builds the routes; opens nothing until it is started
    paths = app.openapi()["paths"]
    routes = {f"{method.upper()} {path}" for path, operations in paths.items() for method in operations}
    routes.add("GET /metrics")
    page = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    missing = sorted(r for r in routes if f"| `{r}` |" not in page)
    assert not missing, f"docs/api.md has no row for: {missing}"
    listed = {line.split("`")[1] for line in page.splitlines() if line.startswith("| `")}
    assert not listed - routes, f"docs/api.md lists routes the app does not serve: {sorted(listed - routes)}"
