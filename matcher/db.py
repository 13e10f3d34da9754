"""Database engine, sessions and schema migrations.

The database is the source of truth. Its schema is owned by the Alembic migrations in ``matcher/migrations``;
``migrate`` upgrades an empty or older database to the newest revision and refuses a database whose revision this
version does not know (it was migrated by a newer PilotMatch), instead of guessing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session, create_engine

from matcher.errors import SchemaTooNew


def create_db_engine(url: str) -> Engine:
    """Create an engine for ``url``; SQLite gets WAL, a busy time-out and its folder created."""
    parsed = make_url(url)
    kwargs: dict = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    return engine


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("matcher").joinpath("migrations")))
    return cfg


def schema_revisions(engine: Engine) -> tuple[str | None, str]:
    """Return (the database's revision, the newest revision this code knows)."""
    script = ScriptDirectory.from_config(_alembic_config())
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, script.get_current_head() or ""


def migrate(engine: Engine) -> None:
    """Upgrade the schema to head; raise ``SchemaTooNew`` for a database from a newer version."""
    cfg = _alembic_config()
    script = ScriptDirectory.from_config(cfg)
    current, head = schema_revisions(engine)
    if current is not None:
        try:
            script.get_revision(current)
        except CommandError as exc:
            raise SchemaTooNew(
                f"The database is at schema revision {current!r}, which this PilotMatch does not know (its newest "
                f"is {head!r}). It was upgraded by a newer PilotMatch: run that version, or restore a backup."
            ) from exc
    if current == head:
        return
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        return
    # SQLite changes a table's definition by rebuilding it; with foreign keys enforced, dropping the old parent
    # would cascade-delete its children. Enforcement can only be switched outside a transaction.
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.commit()
        try:
            with conn.begin():
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"Schema upgrade would break foreign keys: {broken[:5]}")
        finally:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.commit()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error, so a failed request changes nothing."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
