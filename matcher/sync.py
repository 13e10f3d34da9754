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
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, text
from sqlmodel import Field, Session, SQLModel, delete, select

from matcher import indexing
from matcher.dbtypes import UTCDateTime, utcnow
from matcher.engagements.responsiveness import responsiveness
from matcher.indexing import PLATFORM, TECHNOLOGY
from matcher.observability import INDEX_ITEMS, SYNC_LAG
from matcher.platforms.models import Platform
from matcher.technologies.models import Technology

log = logging.getLogger("pilotmatch.sync")

CHANNEL = "pilotmatch_changes"
POLL_BATCH = 5000


class ChangeLog(SQLModel, table=True):
    __tablename__ = "change_log"

    id: int | None = Field(default=None, primary_key=True)
    corpus: str = Field(max_length=16)
    item_id: int
    #: The process that made the change; it applied the change already and skips the entry.
    origin: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


#: A clock: the current time, timezone-aware UTC (``matcher.dbtypes.utcnow`` is the real one).
Clock = Callable[[], datetime]


def database_now(session: Session, clock: Clock = utcnow) -> datetime:
    """The database server's clock (PostgreSQL), or this host's (``clock``) for SQLite (one host by construction).

    Entries are stamped and aged by one clock, so the gap rule holds when writers and followers run on hosts
    whose clocks disagree."""
    if session.get_bind().dialect.name == "postgresql":
        stamp = session.execute(text("SELECT statement_timestamp()")).scalar_one()
        return stamp.astimezone(UTC)
    return clock()


def record_changes(session: Session, origin: str, corpus: str, item_ids: list[int]) -> None:
    """Add change-log entries to the caller's transaction (commit them together with the write)."""
    if item_ids:
        now = database_now(session)
        session.execute(  # one multi-row INSERT: bulk imports write thousands of entries
            insert(ChangeLog),
            [{"corpus": corpus, "item_id": i, "origin": origin, "created_at": now} for i in item_ids],
        )
        if session.get_bind().dialect.name == "postgresql":
            # Delivered at commit (and dropped on rollback): followers wake at once instead of at their next poll.
            session.execute(text(f"NOTIFY {CHANNEL}"))


def log_position(session: Session) -> int:
    return int(session.exec(select(func.coalesce(func.max(ChangeLog.id), 0))).one())


#: A missing id in the log is a transaction that took its id but has not committed yet (or rolled back). The
#: follower's position stops before such a gap until the entry appears or this many seconds pass.
GAP_WAIT_SECONDS = 10.0
#: Stale technology completions worked out again per hold of the write lock (about 10-30 ms each).
STALE_BATCH = 20
#: How often each process reads the platforms' responsiveness for the ranking's tie-breaker.
TIE_BREAK_SECONDS = 60.0
#: Change-log entries are kept this long; a process that was away longer reconciles against the rows.
LOG_RETENTION = timedelta(days=1)


class ChangeFollower:
    """Applies other processes' writes to this process's engine; ``lag`` is how far behind it is.

    ``position`` is a watermark: every entry up to it has been applied. Entries after a gap are applied as soon
    as they are seen (``_applied`` remembers them) but the watermark waits at the gap, so a transaction that
    committed late with a lower id is not skipped. Snapshots record the watermark.

    ``clock`` is this host's clock (the real one unless a test passes another): it says how long the follower
    has gone without advancing. Gaps are aged by the database's clock (``database_now``; on SQLite, this one).
    """

    def __init__(self, rt, poll_seconds: float = 0.5, *, clock: Clock = utcnow) -> None:  # type: ignore[no-untyped-def]
        self.rt = rt
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.position = 0
        self.head = 0
        self.stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._applied: set[int] = set()
        self._advanced_at = clock()
        self._saved_at = time.monotonic()
        self._tie_break_at = 0.0

    @property
    def lag(self) -> int:
        return max(0, self.head - self.position)

    def _set_position(self, position: int) -> None:
        self.position = position
        self.rt.engine.log_position = position
        self._advanced_at = self.clock()

    def _record_metrics(self) -> None:
        SYNC_LAG.set(self.lag)
        INDEX_ITEMS.labels("platforms").set(self.rt.engine.count("platforms"))
        INDEX_ITEMS.labels("technologies").set(self.rt.engine.count("technologies"))

    def start_position(self) -> None:
        """Call before loading indexes from the database: later changes are then applied on top. Entries of the
        last ``GAP_WAIT_SECONDS`` are replayed too (a write with a lower id may still have been committing)."""
        with self.rt.session() as s:
            self.head = log_position(s)
            settled = s.exec(
                select(func.coalesce(func.max(ChangeLog.id), 0)).where(
                    ChangeLog.created_at < database_now(s, self.clock) - timedelta(seconds=GAP_WAIT_SECONDS)
                )
            ).one()
        self._set_position(int(settled))

    def resume_from(self, position: int, corpus_size: int) -> bool:
        """Start from a snapshot's position if the log still holds every entry after it and replaying them is
        cheaper than reconciling; returns False (change nothing) otherwise."""
        with self.rt.session() as s:
            oldest = s.exec(select(func.min(ChangeLog.id))).one()
            head = log_position(s)
        # An empty log tells nothing (it may have been pruned): only a log that reaches back to the snapshot does.
        covered = oldest is not None and (oldest <= position + 1 or position >= head)
        if not covered or head - position > max(2000, corpus_size // 5):
            return False
        self.head = head
        self._applied.clear()
        self._set_position(position)
        return True

    def catch_up(self) -> int:
        """Apply everything in the log now (start-up); returns how many entries were read."""
        total = 0
        while True:
            before = self.position
            n = self.poll_once()
            total += n
            if n < POLL_BATCH or self.position == before:  # done, or waiting at a young gap
                return total

    def poll_once(self) -> int:
        """Apply every change after ``position``; returns how many entries were read."""
        with self.rt.session() as s:
            rows = s.exec(
                select(ChangeLog).where(ChangeLog.id > self.position).order_by(ChangeLog.id).limit(POLL_BATCH)
            ).all()
            self.head = max(self.head, log_position(s))
            oldest = s.exec(select(func.min(ChangeLog.id))).one()
            db_now = database_now(s, self.clock)
        if not rows:
            # Caught up: nothing was missed, however long the log stays quiet.
            self._advanced_at = self.clock()
            return 0
        now = self.clock()
        if oldest is not None and self.position < oldest - 1 and now - self._advanced_at > LOG_RETENTION:
            # Entries this process never saw were pruned: only the rows themselves can tell what changed.
            log.warning("event=sync_gap position=%d oldest=%d action=reconcile", self.position, oldest)
            self.rt.load_indexes(reconcile=True)
            self._applied.clear()
            self._set_position(rows[-1].id)  # type: ignore[arg-type]
            return len(rows)
        latest: dict[tuple[str, int], int] = {}
        for r in rows:
            if r.id not in self._applied and r.origin != self.rt.instance_id:
                latest[(r.corpus, r.item_id)] = r.id  # type: ignore[assignment]
        for corpus in (PLATFORM, TECHNOLOGY):
            self.apply_many(corpus, [item_id for c, item_id in latest if c == corpus])
        self._applied.update(r.id for r in rows)  # type: ignore[misc]
        watermark = self.position
        for r in rows:
            if r.id == watermark + 1 or (db_now - r.created_at).total_seconds() > GAP_WAIT_SECONDS:
                watermark = r.id  # type: ignore[assignment]
            else:
                break  # a younger gap: wait for it
        if watermark != self.position:
            self._set_position(watermark)
            self._applied = {i for i in self._applied if i > watermark}
        return len(rows)

    def apply(self, corpus: str, item_id: int) -> None:
        """Bring one item of this process's engine in step with its row (the row is the truth)."""
        self.apply_many(corpus, [item_id])

    def apply_many(self, corpus: str, item_ids: list[int]) -> None:
        """The same for many items: their rows read in one query and their changed texts embedded in batches
        (catching up after a bulk import or a reset is one embedding call per batch, not one per row)."""
        if not item_ids:
            return
        engine = self.rt.engine
        model = Platform if corpus == PLATFORM else Technology
        with self.rt.session() as s:
            rows = {r.id: r for r in s.exec(select(model).where(model.id.in_(item_ids))).all()}  # type: ignore[attr-defined]
        present = list(rows.values())
        prepared = dict(zip(rows, indexing.prepare(engine, corpus, present), strict=True))  # the slow part
        with engine.write_lock:
            now = self._updated_at(model, list(rows))
            items: list[tuple[int, Platform | Technology | None, indexing.Prepared | None]] = []
            for item_id in item_ids:
                row = rows.get(item_id)
                if row is None:
                    items.append((item_id, None, None))
                elif now.get(item_id) == row.updated_at:
                    items.append((item_id, row, prepared[item_id]))
                # else the row changed (or went) since it was read: a later log entry brings its newer state
            indexing.apply(engine, corpus, items)

    def _updated_at(self, model: type, item_ids: list[int]) -> dict[int, object]:
        """When each row was last written, as the database has it now (rows deleted meanwhile are absent)."""
        if not item_ids:
            return {}
        with self.rt.session() as s:
            found = s.exec(select(model.id, model.updated_at).where(model.id.in_(item_ids))).all()  # type: ignore[attr-defined]
        return dict(found)  # type: ignore[arg-type]

    def complete_stale_technologies(self, batch: int = STALE_BATCH) -> int:
        """Technologies completed against platforms that have changed since are completed again, a small batch
        under the write lock at a time (writes wait at most one batch); returns how many are left."""
        engine = self.rt.engine
        while not self.stop_event.is_set():
            with engine.write_lock:
                if engine.completions.complete_stale(batch) < batch:
                    return 0
        return engine.completions.stale()

    def _save_now_and_then(self) -> None:
        """Save changed snapshots every ``snapshot_seconds``, so a restart (even after kill -9) replays little."""
        if time.monotonic() - self._saved_at >= self.rt.settings.snapshot_seconds:
            self._saved_at = time.monotonic()
            self.rt.engine.save()

    def refresh_tie_break(self) -> None:
        """Read every platform's responsiveness (how readily it answers) for the ranking's tie-breaker."""
        self._tie_break_at = time.monotonic()
        self.rt.engine.ranker.tie_break = responsiveness(self.rt.db)

    def _refresh_tie_break_now_and_then(self) -> None:
        if time.monotonic() - self._tie_break_at >= TIE_BREAK_SECONDS:
            self.refresh_tie_break()

    def prune(self, keep: timedelta = LOG_RETENTION) -> None:
        with self.rt.session() as s:
            s.exec(delete(ChangeLog).where(ChangeLog.created_at < database_now(s, self.clock) - keep))  # type: ignore[arg-type]
            s.commit()

    def run(self) -> None:
        listener = self._listen()
        try:
            while not self.stop_event.is_set():
                try:
                    self.poll_once()
                    self.complete_stale_technologies()
                    self._record_metrics()
                    self._save_now_and_then()
                    self._refresh_tie_break_now_and_then()
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
