"""Operations hardening: /metrics behind the admin key, Swagger UI without a CDN, nosniff on every response,
and no start with a weak admin key."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from matcher import Runtime
from tests.conftest import ADMIN_KEY, AUTH

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def public_metrics_client(demo_runtime: Runtime) -> Iterator[TestClient]:
    settings = demo_runtime.settings.model_copy(update={"metrics_public": True})
    with TestClient(create_app(settings=settings, runtime=demo_runtime)) as c:
        yield c


def test_metrics_need_the_admin_key(small_client: TestClient) -> None:
    anonymous = small_client.get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert "http_request" not in anonymous.text
    pid = small_client.get("/v1/platforms").json()["items"][0]["id"]
    platform_key = small_client.post(f"/v1/platforms/{pid}/keys", headers=AUTH).json()["key"]
    platform = small_client.get("/metrics", headers={"Authorization": f"Bearer {platform_key}"})
    assert platform.status_code == 403
    assert platform.headers["content-type"] == "application/problem+json"
    admin = small_client.get("/metrics", headers=AUTH)
    assert admin.status_code == 200 and "http_request_duration_seconds" in admin.text


def test_metrics_public_opens_metrics_to_a_scraper(public_metrics_client: TestClient) -> None:
    r = public_metrics_client.get("/metrics")
    assert r.status_code == 200 and "pilotmatch_index_items" in r.text


def _references(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html) + re.findall(
        r"""url:\s*['"]([^'"]+)['"]""", html
    )


@pytest.mark.backend_independent
def test_docs_load_swagger_ui_from_this_server_only(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200 and "SwaggerUIBundle" in r.text
    assert not re.search(r"https?://", r.text), "no external address in the docs page"
    refs = _references(r.text)
    assert len(refs) >= 4  # style, icon, script, the OpenAPI document
    for ref in refs:
        assert ref.startswith("/") and not ref.startswith("//"), ref
        asset = client.get(ref)
        assert asset.status_code == 200, ref
        assert asset.content, ref
    assert (
        client.get("/docs/assets/swagger-ui-bundle.js")
        .headers["content-type"]
        .startswith(("application/javascript", "text/javascript"))
    )
    # The validator badge would send the document's address to validator.swagger.io.
    assert '"validatorUrl": null' in r.text


@pytest.mark.backend_independent
def test_redoc_is_not_served(client: TestClient) -> None:
    assert client.get("/redoc").status_code == 404


@pytest.mark.backend_independent
def test_nosniff_on_json_html_errors_and_static_files(client: TestClient) -> None:
    responses = {
        "json": client.get("/healthz"),
        "html page": client.get("/", headers={"Accept": "text/html"}),
        "problem": client.get("/v1/platforms/999999999"),
        "html error": client.get("/no-such-page", headers={"Accept": "text/html"}),
        "static": client.get("/static/app.css"),
        "docs asset": client.get("/docs/assets/swagger-ui.css"),
        "validation": client.post("/v1/match", json={}),
    }
    assert responses["problem"].status_code == 404 and responses["validation"].status_code == 422
    for name, r in responses.items():
        assert r.headers.get("x-content-type-options") == "nosniff", name
        assert len(r.headers.get_list("x-content-type-options")) == 1, name


@pytest.mark.backend_independent
def test_nosniff_on_413_from_the_body_limit(demo_runtime: Runtime) -> None:
    settings = demo_runtime.settings.model_copy(update={"max_body_bytes": 1024})
    with TestClient(create_app(settings=settings, runtime=demo_runtime)) as c:
        r = c.post(
            "/v1/match",
            content=b'{"text": "' + b"x" * 4096 + b'"}',
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 413
        assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.backend_independent
def test_nosniff_on_the_500_of_an_unhandled_error(demo_runtime: Runtime) -> None:
    app = create_app(runtime=demo_runtime)

    @app.get("/test-unhandled-error")
    def broken() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/test-unhandled-error")
        assert r.status_code == 500
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.backend_independent
def test_create_app_refuses_a_short_admin_key_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PILOTMATCH_ADMIN_KEY", "short-key")
    with pytest.raises(SystemExit) as stopped:
        create_app()
    message = str(stopped.value)
    assert "PILOTMATCH_ADMIN_KEY" in message and "at least 24 characters" in message
    assert "\n" not in message


@pytest.mark.backend_independent
def test_serve_refuses_a_short_admin_key_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    env = os.environ | {
        "PILOTMATCH_ADMIN_KEY": "short-key",
        "PILOTMATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "PILOTMATCH_INDEX_DIR": str(tmp_path / "indexes"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "serve", "--port", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "PILOTMATCH_ADMIN_KEY must be at least 24 characters" in lines[0]
    assert not (tmp_path / "db.sqlite").exists(), "nothing was created before the refusal"


@pytest.mark.backend_independent
def test_a_long_enough_admin_key_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    from api.app import load_settings

    monkeypatch.setenv("PILOTMATCH_ADMIN_KEY", ADMIN_KEY)
    key = load_settings().admin_key
    assert key is not None and key.get_secret_value() == ADMIN_KEY
