"""Wiring: one ``Runtime`` per process holds the settings, the database engine, the taxonomy and the match engine.

The API, the CLI and the scripts all open the same ``Runtime``, so there is one code path for every job.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from matcher.db import create_db_engine, migrate
from matcher.matching.embedders import Embedder, load_embedder
from matcher.matching.engine import MatchEngine
from matcher.matching.text import warm_up_tokenizer
from matcher.platforms.models import Platform
from matcher.settings import Settings
from matcher.taxonomy import Taxonomy, default_taxonomy
from matcher.technologies.models import Technology

log = logging.getLogger("pilotmatch.runtime")

Progress = Callable[[int, int], None]

_EMBEDDERS: dict[tuple[str, int], Embedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def shared_embedder(name: str, threads: int) -> Embedder:
    """Load each embedder once per process (tests and scripts open several runtimes on one model)."""
    with _EMBEDDERS_LOCK:
        key = (name, threads)
        if key not in _EMBEDDERS:
            _EMBEDDERS[key] = load_embedder(name, threads)
        return _EMBEDDERS[key]


@dataclass
class Runtime:
    settings: Settings
    db: Engine
    taxonomy: Taxonomy
    engine: MatchEngine
    #: Follows the change log so writes made by other processes reach this one's indexes (see matcher.sync).
    follower: Any = None
    #: Names this process in the change log, so it skips the entries of its own writes.
    instance_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    _closed: bool = field(default=False, repr=False)

    @classmethod
    def open(
        cls, settings: Settings | None = None, *, progress: Progress | None = None, rebuild: bool = False
    ) -> Runtime:
        """Migrate the database, load the embedder and bring the indexes in step with the database.

        With ``rebuild`` the saved snapshots are discarded first, so every index is built from the database.
        """
        settings = settings or Settings()
        db = create_db_engine(settings.database_url)
        migrate(db)
        taxonomy = default_taxonomy()
        warm_up_tokenizer()
        embedder = shared_embedder(settings.embedding_model, settings.embedding_threads)
        rt = cls(
            settings=settings, db=db, taxonomy=taxonomy, engine=MatchEngine(settings, taxonomy, embedder)
        )
        from matcher.sync import ChangeFollower

        rt.follower = ChangeFollower(rt, settings.sync_poll_seconds)
        rt.follower.start_position()  # before loading: writes made meanwhile are applied on top
        if rebuild:
            rt.engine.clear_snapshots()
        rt.load_indexes(progress=progress)
        return rt

    def session(self) -> Session:
        return Session(self.db, expire_on_commit=False)

    def load_indexes(self, progress: Progress | None = None) -> dict[str, int]:
        with self.session() as s:
            platforms = s.exec(select(Platform).where(Platform.active == True)).all()  # noqa: E712
            technologies = s.exec(select(Technology).where(Technology.status != "closed")).all()
        return self.engine.load(platforms, technologies, progress)

    def reindex(self, progress: Progress | None = None) -> dict[str, int]:
        """Rebuild every index from the database, ignoring any snapshot."""
        self.engine.clear_snapshots()
        return self.load_indexes(progress)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.follower is not None:
            self.follower.stop()
        try:
            self.engine.save()
        finally:
            self.db.dispose()
