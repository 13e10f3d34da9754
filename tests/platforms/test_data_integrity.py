"""Data integrity: ids are never reused, a deleted platform takes its access with it, fact-only edits score as
a restart would, conflicts are found before embedding, and list filters are literal."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from matcher import Runtime
from matcher.db import _alembic_config, create_db_engine
from tests.conftest import AUTH, USE_POSTGRES, make_settings

NEW = {
    "name": "量子精密测量中试平台",
    "tier": "reserve",
    "area": "emerging_future",
    "directions": ["quantum"],
    "capabilities": "原子磁力计与量子陀螺仪样机的工程化与环境适应性测试。",
}
TECH = {"summary": "原子磁力计样机的工程化验证", "contact": "lab@example.edu.cn"}


def test_a_deleted_platforms_id_is_never_handed_out_again(small_client: TestClient) -> None:
    first = small_client.post("/v1/platforms", json=NEW, headers=AUTH).json()["id"]
    assert small_client.delete(f"/v1/platforms/{first}", headers=AUTH).status_code == 204
    second = small_client.post("/v1/platforms", json=NEW | {"name": "另一个平台"}, headers=AUTH).json()["id"]
    assert second > first


def test_a_deleted_technologys_id_is_never_handed_out_again(small_client: TestClient) -> None:
    first = small_client.post("/v1/technologies", json=TECH, headers=AUTH).json()["id"]
    assert small_client.delete(f"/v1/technologies/{first}", headers=AUTH).status_code == 204
    second = small_client.post("/v1/technologies", json=TECH, headers=AUTH).json()["id"]
    assert second > first


def test_deleting_a_platform_revokes_its_keys_and_hides_its_routes(small_client: TestClient) -> None:
    pid = small_client.post("/v1/platforms", json=NEW, headers=AUTH).json()["id"]
    key = small_client.post(f"/v1/platforms/{pid}/keys", headers=AUTH).json()["key"]
    own = {"Authorization": f"Bearer {key}"}
    assert small_client.get(f"/v1/platforms/{pid}/notifications", headers=own).status_code == 200
    assert small_client.delete(f"/v1/platforms/{pid}", headers=AUTH).status_code == 204
    for path in ("notifications", "webhooks"):
        assert small_client.get(f"/v1/platforms/{pid}/{path}", headers=own).status_code == 401
        assert small_client.get(f"/v1/platforms/{pid}/{path}", headers=AUTH).status_code == 404
    assert small_client.patch(f"/v1/platforms/{pid}", json={"name": "x"}, headers=own).status_code == 401
    assert small_client.get(f"/v1/platforms/{pid}/keys", headers=AUTH).status_code == 404
    assert small_client.get(f"/v1/platforms/{pid}/technologies").status_code == 404
    # The key stays dead for whatever is created next.
    small_client.post("/v1/platforms", json=NEW | {"name": "新平台"}, headers=AUTH)
    assert small_client.get("/v1/platforms", headers=own).status_code == 401  # even a public read says so
    assert (
        small_client.post(
            f"/v1/platforms/{pid + 1}/webhooks", json={"url": "https://example.com/h"}, headers=own
        ).status_code
        == 401
    )


def _pair_score(c: TestClient, platform_id: int, technology_id: int) -> float:
    found = c.get(f"/v1/platforms/{platform_id}/technologies", params={"limit": 100}).json()["matches"]
    return next(t["score"] for t in found if t["technology_id"] == technology_id)


def test_a_trl_only_edit_scores_as_after_a_restart(tmp_path: Path) -> None:
    from matcher import create_platforms
    from tests.conftest import SAMPLE_PLATFORMS

    settings = make_settings(tmp_path)
    rt = Runtime.open(settings)
    create_platforms(rt.db, rt.engine, rt.settings, SAMPLE_PLATFORMS)
    with TestClient(create_app(runtime=rt)) as c:
        tid = c.post(
            "/v1/technologies", json={"summary": "PEM电解槽电堆耐久性测试", "trl": 3}, headers=AUTH
        ).json()["id"]
        pid = c.get("/v1/platforms", params={"q": "PEM"}).json()["items"][0]["id"]
        assert c.patch(f"/v1/technologies/{tid}", json={"trl": 6}, headers=AUTH).status_code == 200
        written = _pair_score(c, pid, tid)
    rt.close()
    again = Runtime.open(settings)
    try:
        with TestClient(create_app(runtime=again)) as c:
            assert _pair_score(c, pid, tid) == written
        again.reindex()
        with TestClient(create_app(runtime=again)) as c:
            assert _pair_score(c, pid, tid) == written
    finally:
        again.close()


def test_patching_to_another_rows_external_id_is_a_conflict(small_client: TestClient) -> None:
    a = small_client.post("/v1/platforms", json=NEW | {"external_id": "a"}, headers=AUTH).json()["id"]
    small_client.post("/v1/platforms", json=NEW | {"external_id": "b", "name": "B"}, headers=AUTH)
    r = small_client.patch(f"/v1/platforms/{a}", json={"external_id": "b", "name": "改名"}, headers=AUTH)
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
    assert small_client.get(f"/v1/platforms/{a}").json()["name"] == NEW["name"]
    t = small_client.post("/v1/technologies", json=TECH | {"external_id": "t-a"}, headers=AUTH).json()["id"]
    small_client.post("/v1/technologies", json=TECH | {"external_id": "t-b"}, headers=AUTH)
    assert (
        small_client.patch(f"/v1/technologies/{t}", json={"external_id": "t-b"}, headers=AUTH).status_code
        == 409
    )
    assert (
        small_client.post("/v1/technologies", json=TECH | {"external_id": "t-b"}, headers=AUTH).status_code
        == 409
    )


def test_a_bulk_import_colliding_on_external_id_is_refused_before_embedding(small_runtime: Runtime) -> None:
    from matcher import Conflict, PlatformCreate, create_platforms

    embedded: list[int] = []
    items = [PlatformCreate(**(NEW | {"external_id": f"bulk-{i}", "name": f"平台{i}"})) for i in range(50)]
    items.append(PlatformCreate(**(NEW | {"external_id": "s-steel"})))  # a sample platform's
    with pytest.raises(Conflict):
        create_platforms(
            small_runtime.db,
            small_runtime.engine,
            small_runtime.settings,
            items,
            progress=lambda done, total: embedded.append(done),
        )
    assert embedded == []  # nothing reached the embedder


def test_name_search_is_literal(small_client: TestClient) -> None:
    assert small_client.get("/v1/platforms", params={"q": "%"}).json()["items"] == []
    assert small_client.get("/v1/platforms", params={"q": "_"}).json()["items"] == []
    small_client.post("/v1/platforms", json=NEW | {"name": "100%_pilot 平台"}, headers=AUTH)
    found = small_client.get("/v1/platforms", params={"q": "100%_p"}).json()["items"]
    assert [p["name"] for p in found] == ["100%_pilot 平台"]


@pytest.mark.skipif(USE_POSTGRES, reason="converts an existing SQLite file")
def test_the_migration_keeps_every_row_and_never_reuses_a_deleted_id(tmp_path: Path) -> None:
    """A database made before ids were protected: its newest platform was deleted, but a key still names it."""
    path = tmp_path / "old.db"
    engine = create_db_engine(f"sqlite:///{path}")
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0006")
        conn.execute(
            text(
                "INSERT INTO platform (id, name, tier, area, directions, service_types, capabilities, equipment, "
                "active, needs_matching, created_at, updated_at) VALUES "
                "(1, 'P1', 'reserve', 'raw_materials', '[]', '[]', 'c', '[]', 1, 0, '2026-01-01', '2026-01-01'),"
                "(2, 'P2', 'reserve', 'raw_materials', '[]', '[]', 'c', '[]', 1, 0, '2026-01-01', '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO notification (platform_id, type, payload, created_at, email_attempts) "
                "VALUES (1, 'match.created', '{}', '2026-01-01', 0)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO api_key (role, platform_id, prefix, key_hash, created_at) "
                "VALUES ('platform', 2, 'pm_platform_x', 'h2', '2026-01-01')"
            )
        )
        conn.execute(text("DELETE FROM platform WHERE id = 2"))
    engine.dispose()
    rt = Runtime.open(make_settings(tmp_path).model_copy(update={"database_url": f"sqlite:///{path}"}))
    try:
        with rt.db.begin() as conn:
            assert conn.execute(text("SELECT count(*) FROM notification WHERE platform_id = 1")).scalar() == 1
            assert conn.execute(text("SELECT count(*) FROM api_key")).scalar() == 1
            conn.execute(
                text(
                    "INSERT INTO platform (name, tier, area, directions, service_types, capabilities, equipment, "
                    "active, needs_matching, created_at, updated_at) VALUES "
                    "('P3', 'reserve', 'raw_materials', '[]', '[]', 'c', '[]', 1, 0, '2026-01-01', '2026-01-01')"
                )
            )
            assert conn.execute(text("SELECT max(id) FROM platform")).scalar() == 3
    finally:
        rt.close()
    schema = (
        sqlite3.connect(path).execute("SELECT sql FROM sqlite_master WHERE name = 'platform'").fetchone()[0]
    )
    assert "AUTOINCREMENT" in schema
