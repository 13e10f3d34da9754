"""Wiring: one ``Runtime`` per process holds the settings, the database engine, the taxonomy and the match engine.

The API, the CLI and the scripts all open the same ``Runtime``, so there is one code path for every job.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, select

from matcher import indexing
from matcher.db import create_db_engine, migrate
from matcher.indexing import PLATFORM, TECHNOLOGY
from matcher.matching.embedders import Embedder, load_embedder
from matcher.matching.engine import MatchEngine
from matcher.matching.lexicon import load_lexicon
from matcher.matching.text import warm_up_tokenizer
from matcher.platforms.models import Platform
from matcher.settings import Settings
from matcher.sync import ChangeFollower
from matcher.taxonomy import Taxonomy, default_taxonomy
from matcher.technologies.models import Technology

log = logging.getLogger("pilotmatch.runtime")

Progress = Callable[[int, int], None]

#: After a log replay, at most this many rows missing from (or extra in) the indexes are fixed one by one;
#: more mean the snapshot is far behind, and the batched reconcile is faster.
MAX_ROW_BY_ROW = 500

_EMBEDDERS: dict[tuple[str, int], Embedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def limit_compute_threads(threads: int) -> None:
    """Cap the threads every numeric library may use in this process (BLAS, OpenMP for FAISS).

    These libraries spin-wait: several processes (or request threads) each running as many threads as there are
    cores slow each other down by an order of magnitude (measured with ``scripts/load.py``: 18 requests/s with
    two threads per process, 113 with one). ``pilotmatch serve --workers N`` sets cores / N.
    """
    import faiss
    from threadpoolctl import threadpool_limits

    threads = max(1, min(threads, os.cpu_count() or 1))
    threadpool_limits(threads)
    faiss.omp_set_num_threads(threads)


def shared_embedder(name: str, threads: int, cache_dir: Path | None = None) -> Embedder:
    """Load each embedder once per process (tests and scripts open several runtimes on one model)."""
    with _EMBEDDERS_LOCK:
        key = (name, threads)
        if key not in _EMBEDDERS:
            _EMBEDDERS[key] = load_embedder(name, threads, cache_dir)
        return _EMBEDDERS[key]


@dataclass
class Runtime:
    settings: Settings
    db: Engine
    taxonomy: Taxonomy
    engine: MatchEngine
    #: Follows the change log so writes made by other processes reach this one's indexes (see matcher.sync).
    follower: ChangeFollower | None = None
    _closed: bool = field(default=False, repr=False)

    @classmethod
    def open(
        cls, settings: Settings | None = None, *, progress: Progress | None = None, rebuild: bool = False
    ) -> Runtime:
        """Migrate the database, load the embedder and bring the indexes in step with the database.

        With ``rebuild`` the saved snapshots are discarded first, so every index is built from the database.
        """
        settings = settings or Settings()
        opening = time.perf_counter()
        limit_compute_threads(settings.embedding_threads)
        db = create_db_engine(settings.database_url)
        migrate(db)
        taxonomy = default_taxonomy()
        warm_up_tokenizer()
        threads, cache = settings.embedding_threads, settings.model_cache_dir
        embedder = shared_embedder(settings.embedding_model, threads, cache)
        english = shared_embedder(settings.english_model, threads, cache) if settings.english_model else None
        lexicon = load_lexicon(Path(settings.index_dir))
        log.info("event=models_loaded seconds=%.2f", time.perf_counter() - opening)
        engine = MatchEngine(settings, taxonomy, embedder, lexicon=lexicon, english=english)
        rt = cls(settings=settings, db=db, taxonomy=taxonomy, engine=engine)
        rt.follower = ChangeFollower(rt, settings.sync_poll_seconds)
        rt.follower.start_position()  # before loading: writes made meanwhile are applied on top
        if rebuild:
            rt.engine.clear_snapshots()
        rt.load_indexes(progress=progress)
        rt.follower.refresh_tie_break()
        return rt

    @property
    def instance_id(self) -> str:
        """Names this process in the change log, so it skips the entries of its own writes."""
        return self.engine.origin

    def session(self) -> Session:
        return Session(self.db, expire_on_commit=False)

    def load_indexes(self, progress: Progress | None = None, *, reconcile: bool = False) -> dict[str, int]:
        """Bring the indexes in step with the database.

        The fast path loads the snapshots and replays the change log after the position they include; the ids
        of the rows are then compared with the indexes' (cheap), so a row changed behind the service's back is
        still found. When the log no longer reaches back to the snapshot (or ``reconcile``), every row is read
        and compared with the snapshot by content hash.
        """
        started = time.perf_counter()
        if not reconcile and self.follower is not None:
            position = self.engine.load_snapshots()
            size = self.engine.count("platforms") + self.engine.count("technologies")
            if position is not None and self.follower.resume_from(position, size):
                replayed = self.follower.catch_up()
                stats = self._load_missing()
                if stats is not None:
                    stats["log_replayed"] = replayed
                    if stats["platforms_embedded"] or stats["platforms_removed"] or replayed:
                        self.engine.save()
                    self.engine.loaded(stats, started)
                    return stats
        with self.session() as s:
            platforms = s.exec(select(Platform).where(Platform.active == True)).all()  # noqa: E712
            technologies = s.exec(select(Technology).where(Technology.status != "closed")).all()
        return indexing.reconcile(self.engine, platforms, technologies, progress, started)

    def _load_missing(self) -> dict[str, int] | None:
        """After a replay: index rows the indexes lack and drop items whose rows are gone (ids only). None when
        there are so many that the batched reconcile is cheaper than one row at a time."""
        engine = self.engine
        with self.session() as s:
            platform_ids = set(s.exec(select(Platform.id).where(Platform.active == True)).all())  # noqa: E712
            technology_ids = set(s.exec(select(Technology.id).where(Technology.status != "closed")).all())
        stats = {"platforms_reused": 0, "platforms_embedded": 0, "platforms_removed": 0}
        for corpus, name, wanted in (
            (PLATFORM, "platforms", platform_ids),
            (TECHNOLOGY, "technologies", technology_ids),
        ):
            have = set(engine.indexed_ids(name))
            missing, extra = wanted - have, have - wanted
            if len(missing) + len(extra) > MAX_ROW_BY_ROW:
                return None
            self.follower.apply_many(corpus, sorted(missing | extra))
            stats[f"{name}_reused"] = len(have & wanted)
            stats[f"{name}_embedded"] = len(missing)
            stats[f"{name}_removed"] = len(extra)
        return stats

    def reindex(self, progress: Progress | None = None) -> dict[str, int]:
        """Rebuild every index from the database, ignoring any snapshot."""
        self.engine.clear_snapshots()
        return self.load_indexes(progress)

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.follower is not None:
            self.follower.stop()
            try:
                # Move the watermark past this process's own writes, so the snapshot says how far it is current.
                self.follower.catch_up()
            except Exception:
                log.exception("event=sync_error at=close")
        try:
            self.engine.save()
        finally:
            self.db.dispose()
