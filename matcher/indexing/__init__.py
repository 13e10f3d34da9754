"""Applying stored rows to the match indexes: the one path every write takes.

The services (after their commit), the change-log follower (for other processes' writes), start-up (rows the
snapshot lacks) and ``pilotmatch reindex`` all bring an item in step with its row through ``apply``. A row's
document is built the same way everywhere, a text change is re-embedded, a change of facts only (TRL, directions,
capacity, tier...) is applied without embedding, and a technology is completed (inferred directions, best score,
moved query) against the platforms indexed. So a technology scores the same in the writing process, in a process
that followed the write, after a restart and after a rebuild.

Embedding is slow, so it happens in ``prepare``, before the caller takes the engine's write lock; ``apply`` runs
under the lock and embeds only if the indexed text changed in between (another writer got there first).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from matcher.matching.documents import PlatformDoc, TechnologyDoc, platform_doc, technology_doc, with_id
from matcher.matching.engine import MatchEngine
from matcher.platforms.models import Platform
from matcher.technologies.models import Technology

__all__ = [
    "PLATFORM",
    "TECHNOLOGY",
    "Prepared",
    "apply",
    "is_indexed",
    "prepare",
    "reconcile",
    "vectors_by_content",
]

PLATFORM = "platform"
TECHNOLOGY = "technology"

Row = Platform | Technology
Doc = PlatformDoc | TechnologyDoc
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Prepared:
    """A row's document and, when its text differs from what is indexed, its vectors (None: facts only)."""

    doc: Doc
    vectors: np.ndarray | None


def is_indexed(corpus: str, row: Row | None) -> bool:
    """Whether a stored row belongs in the indexes: active platforms and technologies that are not closed."""
    if row is None:
        return False
    if corpus == PLATFORM:
        return bool(row.active)  # type: ignore[union-attr]
    return row.status != "closed"  # type: ignore[union-attr]


def _docs(engine: MatchEngine, corpus: str, rows: Sequence[Row]) -> list[Doc]:
    if corpus == PLATFORM:
        chars = engine.settings.passage_chars
        return [platform_doc(row, chars, engine.model_key) for row in rows]  # type: ignore[arg-type]
    return [technology_doc(row, engine.model_key) for row in rows]  # type: ignore[arg-type]


def _name(corpus: str) -> str:
    return "platforms" if corpus == PLATFORM else "technologies"


def _embed(
    engine: MatchEngine, corpus: str, docs: Sequence[Doc], progress: Progress | None
) -> list[np.ndarray]:
    if corpus == PLATFORM:
        return engine.vectors.platform_docs(docs, progress)  # type: ignore[arg-type]
    return engine.vectors.technology_docs(docs, progress)  # type: ignore[arg-type]


def prepare(
    engine: MatchEngine,
    corpus: str,
    rows: Sequence[Row],
    progress: Progress | None = None,
    known: Mapping[str, np.ndarray] | None = None,
) -> list[Prepared]:
    """Documents for rows about to be stored, embedded where their text is not what the index holds.

    Call before the write lock: this is the slow part. Rows not stored yet (no id) are embedded unless ``known``
    (content hash to vectors, see ``vectors_by_content``) already has their text; rows that will not be indexed
    (inactive, closed) are not embedded at all.
    """
    docs = _docs(engine, corpus, rows)
    known = known or {}
    wanted = [
        i
        for i, (row, doc) in enumerate(zip(rows, docs, strict=True))
        if is_indexed(corpus, row)
        and doc.content_hash not in known
        and (row.id is None or engine.writes.needs_embedding(with_id(doc, row.id), _name(corpus)))  # type: ignore[arg-type]
    ]
    vectors = _embed(engine, corpus, [docs[i] for i in wanted], progress) if wanted else []
    embedded = dict(zip(wanted, vectors, strict=True))
    return [Prepared(doc, embedded.get(i, known.get(doc.content_hash))) for i, doc in enumerate(docs)]


def vectors_by_content(engine: MatchEngine, corpus: str) -> dict[str, np.ndarray]:
    """Every indexed item's vectors by its content hash (which names the text and the models), so the same text
    stored again under a new id (``pilotmatch seed-demo --reset``) is not embedded again."""
    c = engine.corpora[_name(corpus)]
    return {doc.content_hash: c.vectors(item_id) for item_id, doc in c.docs.items()}


def apply(
    engine: MatchEngine,
    corpus: str,
    items: Sequence[tuple[int, Row | None, Prepared | None]],
) -> None:
    """Bring each ``(id, stored row or None if deleted, prepared or None)`` in step with its row.

    The caller holds ``engine.write_lock`` and has committed the rows: the indexes only ever reflect committed
    data. Items are applied in batches (one BM25 rebuild for a bulk import, not one per row).
    """
    removed: list[int] = []
    embedded: list[tuple[Doc, np.ndarray]] = []
    facts_only: list[Doc] = []
    missing: list[Doc] = []
    for item_id, row, prepared in items:
        if not is_indexed(corpus, row):
            removed.append(item_id)
            continue
        doc = prepared.doc if prepared is not None else _docs(engine, corpus, [row])[0]  # type: ignore[list-item]
        doc = _as_committed(with_id(doc, item_id), row)  # type: ignore[arg-type]
        if not engine.writes.needs_embedding(doc, _name(corpus)):
            facts_only.append(doc)
        elif prepared is not None and prepared.vectors is not None:
            embedded.append((doc, prepared.vectors))
        else:
            missing.append(doc)  # its text changed since it was prepared: rare, embedded under the lock
    if missing:
        embedded.extend(zip(missing, _embed(engine, corpus, missing, None), strict=True))
    writes = engine.writes
    if corpus == PLATFORM:
        writes.remove_platforms(removed)
        if embedded:
            writes.store_platforms([d for d, _ in embedded], [v for _, v in embedded])  # type: ignore[misc]
        for doc in facts_only:
            writes.update_platform_facts(doc)  # type: ignore[arg-type]
    else:
        writes.remove_technologies(removed)
        if embedded:
            writes.store_technologies([d for d, _ in embedded], [v for _, v in embedded])  # type: ignore[misc]
        for doc in facts_only:
            writes.update_technology_facts(doc)  # type: ignore[arg-type]


def _as_committed(doc: Doc, row: Row) -> Doc:
    """The document with the row's own state, whatever its preview said: a profile edit prepares its document
    before it knows whether it clears the profile's staleness, and the freshness sweep prepares none."""
    if isinstance(doc, PlatformDoc) and doc.facts.stale != (row.stale_since is not None):  # type: ignore[union-attr]
        return replace(doc, facts=replace(doc.facts, stale=not doc.facts.stale))
    return doc


def reconcile(
    engine: MatchEngine,
    platforms: Sequence[Platform],
    technologies: Sequence[Technology],
    progress: Progress | None = None,
    started: float | None = None,
) -> dict[str, int]:
    """Bring both corpora in step with these rows (every active platform, every open technology): start-up when
    the change log cannot say what changed, and ``pilotmatch reindex`` (after the snapshots were dropped).

    Each corpus starts from its snapshot, if there is a usable one; then every row takes the path a write takes
    (``prepare`` and ``apply``): only texts the snapshot lacks are embedded, and items without a row are removed.
    Platforms come first, since technologies are completed against them. Returns what was reused, embedded
    and removed per corpus, for logs and health checks.
    """
    started = started or time.perf_counter()
    stats: dict[str, int] = {}
    with engine.write_lock:
        for corpus, rows in ((PLATFORM, platforms), (TECHNOLOGY, technologies)):
            name = _name(corpus)
            engine.read_snapshot(name)
            gone = set(engine.indexed_ids(name)) - {row.id for row in rows}
            prepared = prepare(engine, corpus, rows, progress)
            apply(
                engine,
                corpus,
                [(item_id, None, None) for item_id in sorted(gone)]
                + [(row.id, row, ready) for row, ready in zip(rows, prepared, strict=True)],  # type: ignore[misc]
            )
            embedded = sum(1 for ready in prepared if ready.vectors is not None)
            stats[f"{name}_reused"] = len(rows) - embedded
            stats[f"{name}_embedded"] = embedded
            stats[f"{name}_removed"] = len(gone)
        engine.save()
    engine.loaded(stats, started)
    return stats
