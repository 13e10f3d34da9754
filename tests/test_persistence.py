"""The database is the truth; indexes are snapshots that are checked, reused or rebuilt, never silently wrong."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import text

from matcher.db import create_db_engine, migrate, schema_revisions
from matcher.errors import SchemaTooNew
from matcher.matching.engine import MatchQuery
from matcher.platforms.service import delete_platform
from matcher.runtime import Runtime
from tests.conftest import SAMPLE_PLATFORMS, make_settings

QUERY = MatchQuery(text="质子交换膜电解槽耐久性验证", limit=3)


def _top(rt: Runtime) -> list[tuple[int, float]]:
    return [(m.platform_id, m.score) for m in rt.engine.match(QUERY)]


def test_data_and_results_survive_a_restart(small_runtime: Runtime) -> None:
    settings = small_runtime.settings
    before = _top(small_runtime)
    small_runtime.close()
    rt = Runtime.open(settings)
    try:
        assert _top(rt) == before
        assert rt.engine.load_stats["platforms_reused"] == 3  # type: ignore[attr-defined]
        assert rt.engine.load_stats["platforms_embedded"] == 0  # type: ignore[attr-defined]
    finally:
        rt.close()


def test_deleted_index_files_are_rebuilt_from_the_database(small_runtime: Runtime) -> None:
    settings = small_runtime.settings
    before = _top(small_runtime)
    small_runtime.close()
    for f in Path(settings.index_dir).iterdir():
        f.unlink()
    rt = Runtime.open(settings)
    try:
        assert rt.engine.load_stats["platforms_embedded"] == 3  # type: ignore[attr-defined]
        assert [p for p, _ in _top(rt)] == [p for p, _ in before]
        assert (Path(settings.index_dir) / "platforms.faiss").exists()
        manifest = json.loads((Path(settings.index_dir) / "platforms.manifest.json").read_text())
        assert (
            manifest["model"] == "use-multilingual-v3" and manifest["count"] == 3 and manifest["dim"] == 512
        )
        assert manifest["built_at"]
    finally:
        rt.close()


def test_index_built_with_another_model_is_rebuilt_not_used(
    small_runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    settings = small_runtime.settings
    small_runtime.close()
    manifest_path = Path(settings.index_dir) / "platforms.manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["model"] = "some-other-model"
    manifest_path.write_text(json.dumps(manifest))
    with caplog.at_level(logging.WARNING, logger="pilotmatch.engine"):
        rt = Runtime.open(settings)
    try:
        assert rt.engine.load_stats["platforms_embedded"] == 3  # type: ignore[attr-defined]
        assert "model-mismatch" in caplog.text
        assert json.loads(manifest_path.read_text())["model"] == "use-multilingual-v3"
    finally:
        rt.close()


def test_rows_changed_while_the_service_was_down_are_caught_up(small_runtime: Runtime) -> None:
    """A snapshot older than the database (e.g. a crash before saving) is reconciled row by row."""
    settings = small_runtime.settings
    small_runtime.engine.save()
    target = small_runtime.engine.match(QUERY)[0].platform_id
    with small_runtime.db.begin() as conn:
        conn.execute(text("DELETE FROM platform WHERE id = :id"), {"id": target})
    small_runtime.engine.platforms.dirty = False  # the snapshot on disk still holds the deleted platform
    small_runtime.close()
    rt = Runtime.open(settings)
    try:
        assert target not in [p for p, _ in _top(rt)]
        assert rt.engine.load_stats["platforms_removed"] == 1  # type: ignore[attr-defined]
    finally:
        rt.close()


def test_reindex_rebuilds_everything(small_runtime: Runtime) -> None:
    stats = small_runtime.reindex()
    assert stats["platforms_embedded"] == len(SAMPLE_PLATFORMS)


def test_delete_then_restart_keeps_it_gone(small_runtime: Runtime) -> None:
    settings = small_runtime.settings
    target = small_runtime.engine.match(QUERY)[0].platform_id
    delete_platform(small_runtime, target)
    small_runtime.close()
    rt = Runtime.open(settings)
    try:
        assert target not in [p for p, _ in _top(rt)]
    finally:
        rt.close()


def test_empty_database_is_migrated_and_newer_schema_refused(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    engine = create_db_engine(settings.database_url)
    migrate(engine)
    with engine.begin() as conn:
        assert (
            conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            == schema_revisions(engine)[1]
        )
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    with pytest.raises(SchemaTooNew, match="newer PilotMatch"):
        migrate(engine)
    engine.dispose()
    with pytest.raises(SchemaTooNew):
        Runtime.open(settings)


def test_migrations_build_exactly_the_schema_the_models_declare(tmp_path: Path) -> None:
    """A model change without its migration (or the reverse) would work in tests that create tables from the
    models and fail on a real upgrade; here the migrated schema must equal the models'."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    import api.app  # noqa: F401  (imports every model module)

    engine = create_db_engine(make_settings(tmp_path).database_url)
    migrate(engine)
    with engine.connect() as conn:
        drift = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    engine.dispose()
    assert drift == []
