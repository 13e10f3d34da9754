"""The database is the truth; indexes are snapshots that are checked, reused or rebuilt, never silently wrong."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text
from sqlmodel import select

from matcher import MatchQuery, PlatformCreate, Runtime, SchemaTooNew, create_platforms, delete_platform
from matcher.db import create_db_engine, migrate, schema_revisions
from matcher.platforms.models import Platform
from tests.conftest import SAMPLE_PLATFORMS, make_settings

QUERY = MatchQuery(text="质子交换膜电解槽耐久性验证", limit=3)


def _top(rt: Runtime) -> list[tuple[int, float]]:
    return [(m.platform_id, m.score) for m in rt.engine.match(QUERY).matches]


ENGLISH = MatchQuery(text="Scale-up of monoclonal antibody cell culture and purification", limit=3)


def test_data_and_results_survive_a_restart(small_runtime: Runtime) -> None:
    settings = small_runtime.settings
    before = _top(small_runtime)
    english = [(m.platform_id, m.score) for m in small_runtime.engine.match(ENGLISH).matches]
    small_runtime.close()
    rt = Runtime.open(settings)
    try:
        assert _top(rt) == before
        # The English channel's vectors come back from the snapshot too (the same scores, nothing re-embedded).
        assert [(m.platform_id, m.score) for m in rt.engine.match(ENGLISH).matches] == english
        assert (
            rt.engine.corpora.platforms.english is not None and len(rt.engine.corpora.platforms.english) >= 1
        )
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
        manifest = json.loads((Path(settings.index_dir) / "platforms.manifest.json").read_text())
        assert (Path(settings.index_dir) / f"platforms.{manifest['generation']}.faiss").exists()
        assert (Path(settings.index_dir) / f"platforms.{manifest['generation']}.docs.pickle").exists()
        assert (
            manifest["model"] == "use-multilingual-v3+all-minilm-l6-v2"
            and manifest["count"] == 3
            and manifest["dim"] == 512
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
        assert json.loads(manifest_path.read_text())["model"] == "use-multilingual-v3+all-minilm-l6-v2"
    finally:
        rt.close()
    # Turning the English channel off changes the vectors a snapshot must hold: rebuilt, never half-used.
    rt = Runtime.open(settings.model_copy(update={"english_model": ""}))
    try:
        assert rt.engine.load_stats["platforms_embedded"] == 3  # type: ignore[attr-defined]
        assert rt.engine.corpora.platforms.english is None
        assert json.loads(manifest_path.read_text())["model"] == "use-multilingual-v3"
    finally:
        rt.close()


def test_rows_changed_while_the_service_was_down_are_caught_up(small_runtime: Runtime) -> None:
    """A snapshot older than the database (e.g. a crash before saving) is reconciled row by row."""
    settings = small_runtime.settings
    small_runtime.engine.save()
    target = small_runtime.engine.match(QUERY).matches[0].platform_id
    with small_runtime.db.begin() as conn:
        conn.execute(text("DELETE FROM platform WHERE id = :id"), {"id": target})
    small_runtime.engine.corpora.platforms.dirty = (
        False  # the snapshot on disk still holds the deleted platform
    )
    small_runtime.close()
    rt = Runtime.open(settings)
    try:
        assert target not in [p for p, _ in _top(rt)]
        assert (
            target not in rt.engine.corpora.platforms.docs and target not in rt.engine.corpora.platforms.dense
        )
    finally:
        rt.close()


def _completion(rt: Runtime, technology_id: int) -> tuple:
    doc = rt.engine.corpora.technologies.docs[technology_id]
    expanded = None if doc.expanded is None else doc.expanded.tobytes()
    return doc.facts.inferred, doc.best_raw, expanded


def test_a_reconciled_start_completes_technologies_as_a_rebuild_would(small_runtime: Runtime) -> None:
    """The row-by-row start-up path reuses a technology's completion (inferred directions, best score, moved
    query) from the snapshot while the platforms it was completed against are unchanged, and works it out again
    when they changed behind the service's back: either way it equals what a rebuild from the database gives."""
    from matcher import TechnologyCreate, create_technology

    settings = small_runtime.settings
    tech = create_technology(
        small_runtime.db,
        small_runtime.engine,
        small_runtime.settings,
        TechnologyCreate(summary="质子交换膜电解槽电堆的耐久性验证", contact="a@example.edu.cn"),
    )
    before = _completion(small_runtime, tech.id)  # type: ignore[arg-type]
    assert before[0] and before[1] is not None and before[2] is not None
    small_runtime.close()
    rt = Runtime.open(settings)
    try:
        assert rt.engine.load_stats["technologies_reused"] == 1  # type: ignore[attr-defined]
        assert _completion(rt, tech.id) == before  # type: ignore[arg-type]
    finally:
        rt.close()
    with small_runtime.db.begin() as conn:  # a change the log never saw: start-up must reconcile
        conn.execute(
            text("UPDATE platform SET tier = 'reserve', directions = '[]' WHERE external_id = 's-hydrogen'")
        )
        conn.execute(text("DELETE FROM change_log"))
    rt = Runtime.open(settings)
    try:
        after = _completion(rt, tech.id)  # type: ignore[arg-type]
        assert after != before
        rt.reindex()
        rebuilt = _completion(rt, tech.id)  # type: ignore[arg-type]
        # A rebuild embeds the platforms again, in another batch order: floats agree to rounding noise.
        assert rebuilt[0] == after[0] and rebuilt[1] == pytest.approx(after[1], abs=1e-6)
        assert np.allclose(
            np.frombuffer(rebuilt[2], np.float32), np.frombuffer(after[2], np.float32), atol=1e-6
        )
    finally:
        rt.close()


def test_other_feedback_settings_work_out_stored_technologies_again(small_runtime: Runtime) -> None:
    """A technology's moved query depends on the feedback settings: a start under other settings works it out
    again instead of reusing the snapshot's."""
    from matcher import TechnologyCreate, create_technology

    tech = create_technology(
        small_runtime.db,
        small_runtime.engine,
        small_runtime.settings,
        TechnologyCreate(summary="质子交换膜电解槽电堆的耐久性验证"),
    )
    assert small_runtime.engine.corpora.technologies.docs[tech.id].expanded is not None  # type: ignore[index]
    small_runtime.close()
    rt = Runtime.open(small_runtime.settings.model_copy(update={"expansion_weight": 0.0}))
    try:
        doc = rt.engine.corpora.technologies.docs[tech.id]  # type: ignore[index]
        assert (
            doc.expanded is None
            and doc.expansion == rt.engine.completions.key
            and doc.expansion[:3] == (0.0, 3, 12)
        )
        assert doc.facts.inferred and doc.best_raw is not None
    finally:
        rt.close()


def test_reindex_rebuilds_everything(small_runtime: Runtime) -> None:
    stats = small_runtime.reindex()
    assert stats["platforms_embedded"] == len(SAMPLE_PLATFORMS)


def test_delete_then_restart_keeps_it_gone(small_runtime: Runtime) -> None:
    settings = small_runtime.settings
    target = small_runtime.engine.match(QUERY).matches[0].platform_id
    delete_platform(small_runtime.db, small_runtime.engine, target)
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


def test_restart_replays_the_log_after_the_snapshot(small_runtime: Runtime, tmp_path: Path) -> None:
    """The fast start: a snapshot plus the change log written since, with no re-tokenising of unchanged rows."""
    settings = small_runtime.settings
    small_runtime.close()
    other = Runtime.open(settings)  # another process writes while the first is down
    try:
        created = create_platforms(
            other.db,
            other.engine,
            other.settings,
            [
                PlatformCreate(
                    name="钙钛矿叠层电池中试线",
                    tier="provincial",
                    area="emerging_future",
                    capabilities="钙钛矿/晶硅叠层太阳电池大面积涂布与封装中试，组件效率与湿热老化验证。",
                )
            ],
        )
        other.engine.corpora.platforms.dirty = other.engine.corpora.technologies.dirty = (
            False  # it dies without saving
        )
    finally:
        other.follower.stop()
        other.db.dispose()
    rt = Runtime.open(settings)
    try:
        stats = rt.engine.load_stats
        assert stats["log_replayed"] >= 1 and stats["platforms_embedded"] == 0  # the replay brought it
        top = rt.engine.match(MatchQuery("钙钛矿叠层电池组件中试", limit=1)).matches
        assert top[0].platform_id == created[0].id
        manifest = rt.engine.manifest("platforms")
        assert manifest is not None and manifest.log_position >= 1
    finally:
        rt.close()


def test_follower_waits_at_a_gap_and_applies_a_late_commit(small_runtime: Runtime) -> None:
    """A write that took a lower log id but committed after a higher one is not skipped."""
    from matcher.sync import ChangeLog

    rt = small_runtime
    follower = rt.follower
    follower.poll_once()
    start = follower.position
    with rt.session() as s:
        ids = s.exec(select(Platform.id).order_by(Platform.id)).all()
    with rt.db.begin() as conn:
        conn.execute(text("UPDATE platform SET active = false WHERE id = :id"), {"id": ids[1]})
    with rt.session() as s:  # the later id commits first
        s.add(ChangeLog(id=start + 2, corpus="platform", item_id=ids[1], origin="elsewhere"))
        s.commit()
    follower.poll_once()
    assert ids[1] not in rt.engine.corpora.platforms.docs  # applied at once
    assert follower.position == start  # but the watermark waits at the gap
    with rt.db.begin() as conn:
        conn.execute(text("UPDATE platform SET active = false WHERE id = :id"), {"id": ids[0]})
    with rt.session() as s:  # the earlier id commits late
        s.add(ChangeLog(id=start + 1, corpus="platform", item_id=ids[0], origin="elsewhere"))
        s.commit()
    follower.poll_once()
    assert ids[0] not in rt.engine.corpora.platforms.docs
    assert follower.position == start + 2


def test_a_follower_host_whose_clock_runs_ahead_still_waits_at_a_gap(small_runtime: Runtime) -> None:
    """Entries are stamped and aged by the database's clock, so a skewed host clock cannot age a gap early."""
    from matcher.dbtypes import utcnow
    from matcher.sync import ChangeFollower, record_changes

    rt = small_runtime
    if rt.db.dialect.name != "postgresql":
        pytest.skip("SQLite is one host: its clock is the database's")
    ahead = utcnow() + timedelta(hours=1)
    follower = ChangeFollower(rt, clock=lambda: ahead)  # a follower on a host whose clock is an hour ahead
    follower.catch_up()
    start = follower.position
    with rt.session() as s:
        pid = s.exec(select(Platform.id).order_by(Platform.id)).first()
        record_changes(s, "elsewhere", "platform", [pid])  # type: ignore[list-item]
        s.commit()
    with rt.db.begin() as conn:  # leave a gap before that entry, as a slow transaction would
        conn.execute(text("UPDATE change_log SET id = id + 1 WHERE id = :id"), {"id": start + 1})
    follower.poll_once()
    assert follower.position == start  # the gap is seconds old by the database's clock


def test_follower_applies_a_technology_change_that_leaves_the_text_alone(small_runtime: Runtime) -> None:
    """Another process changed only the TRL: no re-embedding, but this process's facts must follow."""
    from matcher import TechnologyCreate, create_technology
    from matcher.sync import ChangeLog

    rt = small_runtime
    tech = create_technology(
        rt.db, rt.engine, rt.settings, TechnologyCreate(summary="质子交换膜电解槽电堆耐久性测试", trl=3)
    )
    rt.follower.poll_once()
    with rt.db.begin() as conn:
        conn.execute(text("UPDATE technology SET trl = 7 WHERE id = :id"), {"id": tech.id})
    with rt.session() as s:
        s.add(ChangeLog(corpus="technology", item_id=tech.id, origin="elsewhere"))
        s.commit()
    rt.follower.poll_once()
    assert rt.engine.corpora.technologies.docs[tech.id].facts.trl == 7
