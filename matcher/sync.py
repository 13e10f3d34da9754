"""Keeping several processes' in-memory indexes in step with the database.

Every write adds a row to ``change_log`` in the same transaction (its id is a monotonically increasing
sequence). Each process follows the log, woken at once by PostgreSQL ``LISTEN/NOTIFY`` and polling otherwise:
a thread reads entries after the last one it applied, reloads the named rows and applies them to its engine
(re-embedding only when the text changed). A process that starts reads the log position before loading its
indexes, so nothing written meanwhile is missed; one that has fallen behind the pruned end of the log
reconciles everything against the database instead.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import func, insert, text
from sqlmodel import Field, Session, SQLModel, delete, select

from matcher.dbtypes import UTCDateTime, utcnow
from matcher.matching.documents import with_id
from matcher.platforms.models import Platform
from matcher.technologies.models import Technology

log = logging.getLogger("pilotmatch.sync")

CHANNEL = "pilotmatch_changes"
PLATFORM = "platform"
TECHNOLOGY = "technology"


class ChangeLog(SQLModel, table=True):
    __tablename__ = "change_log"

    id: int | None = Field(default=None, primary_key=True)
    corpus: str = Field(max_length=16)
    item_id: int
    #: The process that made the change; it applied the change already and skips the entry.
    origin: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


def record_changes(session: Session, origin: str, corpus: str, item_ids: list[int]) -> None:
    """Add change-log entries to the caller's transaction (commit them together with the write)."""
    if item_ids:
        now = utcnow()
        session.execute(  # one multi-row INSERT: bulk imports write thousands of entries
            insert(ChangeLog),
            [{"corpus": corpus, "item_id": i, "origin": origin, "created_at": now} for i in item_ids],
        )
        if session.get_bind().dialect.name == "postgresql":
            # Delivered at commit (and dropped on rollback): followers wake at once instead of at their next poll.
            session.execute(text(f"NOTIFY {CHANNEL}"))


def log_position(session: Session) -> int:
    return int(session.exec(select(func.coalesce(func.max(ChangeLog.id), 0))).one())


class ChangeFollower:
    """Applies other processes' writes to this process's engine; ``lag`` is how far behind it is."""

    def __init__(self, rt, poll_seconds: float = 0.5) -> None:  # type: ignore[no-untyped-def]
        self.rt = rt
        self.poll_seconds = poll_seconds
        self.position = 0
        self.head = 0
        self.stop_event = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def lag(self) -> int:
        return max(0, self.head - self.position)

    def start_position(self) -> None:
        """Call before loading indexes from the database: later changes are then applied on top."""
        with self.rt.session() as s:
            self.position = self.head = log_position(s)

    def poll_once(self) -> int:
        """Apply every change after ``position``; returns how many entries were read."""
        with self.rt.session() as s:
            rows = s.exec(
                select(ChangeLog).where(ChangeLog.id > self.position).order_by(ChangeLog.id).limit(5000)
            ).all()
            self.head = max(self.head, log_position(s))
            oldest = s.exec(select(func.min(ChangeLog.id))).one()
        if not rows:
            return 0
        if oldest is not None and self.position and self.position < oldest - 1:
            log.warning("event=sync_gap position=%d oldest=%d action=reconcile", self.position, oldest)
            self.rt.load_indexes()
        else:
            latest: dict[tuple[str, int], int] = {}
            for r in rows:
                if r.origin != self.rt.instance_id:  # our own writes reached our indexes already
                    latest[(r.corpus, r.item_id)] = r.id  # type: ignore[assignment]
            for corpus, item_id in latest:
                self.apply(corpus, item_id)
        self.position = rows[-1].id  # type: ignore[assignment]
        return len(rows)

    def apply(self, corpus: str, item_id: int) -> None:
        engine = self.rt.engine
        model = Platform if corpus == PLATFORM else Technology
        with self.rt.session() as s:
            row = s.get(model, item_id)
        if corpus == PLATFORM:
            if row is None or not row.active:
                with engine.write_lock:
                    engine.remove_platforms([item_id])
                return
            doc = with_id(engine.platform_docs([row])[0], item_id)
            if engine.needs_reembedding(doc, "platforms"):  # type: ignore[arg-type]
                vectors = engine.embed_platform_docs([doc])  # type: ignore[list-item]
                with engine.write_lock:
                    if self._unchanged(model, item_id, row.updated_at):
                        engine.apply_platforms([doc], vectors)  # type: ignore[list-item]
            else:
                with engine.write_lock:
                    engine.update_platform_facts(doc)  # type: ignore[arg-type]
        else:
            if row is None or row.status == "closed":
                with engine.write_lock:
                    engine.remove_technologies([item_id])
                return
            doc = with_id(engine.technology_docs([row])[0], item_id)
            if engine.needs_reembedding(doc, "technologies"):  # type: ignore[arg-type]
                vectors = engine.embed_technology_docs([doc])  # type: ignore[list-item]
                with engine.write_lock:
                    if self._unchanged(model, item_id, row.updated_at):
                        engine.apply_technologies([doc], vectors)  # type: ignore[list-item]

    def _unchanged(self, model: type, item_id: int, updated_at: object) -> bool:
        """True if the row still is as it was when it was read (else a later log entry brings the newer state)."""
        with self.rt.session() as s:
            row = s.get(model, item_id)
        return row is not None and row.updated_at == updated_at

    def prune(self, keep: timedelta = timedelta(days=1)) -> None:
        with self.rt.session() as s:
            s.exec(delete(ChangeLog).where(ChangeLog.created_at < utcnow() - keep))  # type: ignore[arg-type]
            s.commit()

    def run(self) -> None:
        listener = self._listen()
        try:
            while not self.stop_event.is_set():
                try:
                    self.poll_once()
                except Exception:
                    log.exception("event=sync_error")
                listener = self._wait(listener)
        finally:
            if listener is not None:
                listener.close()

    def _listen(self):  # type: ignore[no-untyped-def]
        """On PostgreSQL, a connection that LISTENs for change notifications (None elsewhere: poll only)."""
        url = self.rt.db.url
        if url.get_backend_name() != "postgresql":
            return None
        try:
            import psycopg

            conn = psycopg.connect(
                url.set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True
            )
            conn.execute(f"LISTEN {CHANNEL}")
            return conn
        except Exception:
            log.exception("event=listen_failed action=poll")
            return None

    def _wait(self, listener):  # type: ignore[no-untyped-def]
        """Sleep until a change notification arrives or ``poll_seconds`` pass; polling stays the safety net."""
        if listener is None:
            self.stop_event.wait(self.poll_seconds)
            return None
        try:
            for _ in listener.notifies(timeout=self.poll_seconds, stop_after=1):
                pass
            return listener
        except Exception:
            log.warning("event=listen_lost action=reconnect")
            listener.close()
            self.stop_event.wait(self.poll_seconds)
            return self._listen()

    def start_thread(self) -> None:
        self._thread = threading.Thread(target=self.run, name="pilotmatch-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
