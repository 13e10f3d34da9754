"""Snapshots of the corpora on disk: each corpus's FAISS indexes and prepared documents under a generation name,
and a manifest naming the generation, the models and the change-log position the snapshot includes.

Start-up loads them and replays the change log after that position (no tokenising or embedding of unchanged
rows). A snapshot built by another model or format is never used: the corpus is rebuilt from the database.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from matcher.matching.corpus import Corpora, Corpus
from matcher.matching.dense import DenseIndex
from matcher.matching.lexical import LexicalIndex

log = logging.getLogger("pilotmatch.engine")

#: 2: documents pickled beside the FAISS index under a generation name; the manifest records the log position.
#: 3: the BM25 main segment is saved with the documents.
#: 4: English tokens are stemmed and glossary terms are single tokens.
#: 5: a platform's mostly-Chinese passages have English-model rows too (of their glosses), stored as float16.
SNAPSHOT_FORMAT = 5


@dataclass
class IndexManifest:
    """What a snapshot on disk was built with; a snapshot whose model or format differs is never used."""

    corpus: str
    model: str
    dim: int
    count: int
    passages: int
    built_at: str
    format: int = SNAPSHOT_FORMAT
    #: Names the files of this snapshot (``<corpus>.<generation>.faiss`` and ``.docs.pickle``).
    generation: str = ""
    #: Every change-log entry up to here is in the snapshot; start-up replays the log after it.
    log_position: int = 0
    approximate: bool = False

    @classmethod
    def read(cls, path: Path) -> IndexManifest | None:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})
        except (OSError, ValueError, KeyError, TypeError):
            return None


class Snapshots:
    """Reads and writes the corpora's snapshots in ``index_dir``."""

    def __init__(
        self, index_dir: Path, corpora: Corpora, model_key: str, approximate_above: int, nprobe: int
    ) -> None:
        self.index_dir = index_dir
        self.corpora = corpora
        self.model_key = model_key
        self.approximate_above = approximate_above
        self.nprobe = nprobe

    def manifest(self, corpus: str) -> IndexManifest | None:
        return IndexManifest.read(self._manifest_path(self.corpora[corpus]))

    def save(self, position: int) -> None:
        """Write each changed corpus: the FAISS indexes and the documents under a new generation name, then the
        manifest naming that generation and ``position`` (the change-log position the state includes).

        The manifest is replaced last and atomically, so a reader (another process starting) sees one whole
        generation or the previous one, never a mix. A corpus large enough switches to an approximate index
        here, so the switch (training) is paid once and saved.
        """
        self.index_dir.mkdir(parents=True, exist_ok=True)
        for c in self.corpora:
            with self.corpora.write_lock:
                if not c.dirty:
                    # Unchanged since its last save, so the files on disk are current up to ``position`` too.
                    self._advance_manifest(c, position)
                    continue
                generation = self._write(c, position)
            self._drop_old_generations(c, keep=generation)

    def _write(self, c: Corpus, position: int) -> str:
        threshold = self.approximate_above
        if not c.dense.approximate and threshold and c.dense.passage_count >= threshold:
            started = time.perf_counter()
            c.dense.make_approximate()
            log.info(
                "index=%s event=approximate passages=%d seconds=%.1f",
                c.name,
                c.dense.passage_count,
                time.perf_counter() - started,
            )
        generation = f"{time.time_ns():x}-{os.getpid():x}"
        faiss_path, docs_path = self._files(c, generation)
        c.dense.save(faiss_path)
        if c.english is not None:
            c.english.save(self._english_file(c, generation))
        c.lexical.search([], 1)  # a pending BM25 merge is done now, not at every start-up after
        _write_pickle(docs_path, {"docs": c.docs, "lexical": c.lexical.snapshot_state()})
        manifest = IndexManifest(
            corpus=c.name,
            model=self.model_key,
            dim=c.dense.dim,
            count=len(c.dense),
            passages=c.dense.passage_count,
            built_at=datetime.now(UTC).isoformat(timespec="seconds"),
            generation=generation,
            log_position=position,
            approximate=c.dense.approximate,
        )
        _write_json(self._manifest_path(c), manifest.__dict__)
        c.dirty = False
        c.generation = generation
        return generation

    def read(self, c: Corpus) -> IndexManifest | None:
        """Load a corpus snapshot (indexes, documents, tokens) if these models built it; None means rebuild (the
        corpus is then empty)."""
        self.corpora.clear(c)
        manifest = IndexManifest.read(self._manifest_path(c))
        if manifest is None:
            log.info("index=%s action=rebuild reason=missing", c.name)
            return None
        if (
            manifest.format != SNAPSHOT_FORMAT
            or manifest.model != self.model_key
            or manifest.dim != c.dense.dim
        ):
            log.warning(
                "index=%s action=rebuild reason=model-mismatch built_with=%s current=%s",
                c.name,
                manifest.model,
                self.model_key,
            )
            return None
        faiss_path, docs_path = self._files(c, manifest.generation)
        try:
            dense = DenseIndex.load(faiss_path, c.dense.dim, self.nprobe)
            english = (
                DenseIndex.load(self._english_file(c, manifest.generation), c.english.dim)
                if c.english is not None
                else None
            )
            with docs_path.open("rb") as f:
                saved = pickle.load(f)  # our own file, written by ``save`` (never user input)
            docs, lexical_state = saved["docs"], saved["lexical"]
        except Exception as exc:
            log.warning("index=%s action=rebuild reason=unreadable error=%s", c.name, exc)
            return None
        stray = [i for i in dense.item_ids() if i not in docs]
        dense.remove(stray)
        if english is not None:
            english.remove([i for i in english.item_ids() if i not in docs])
        c.dense, c.english = dense, english
        c.docs.update({i: d for i, d in docs.items() if i in dense})
        c.lexical = LexicalIndex.restored({i: list(d.tokens) for i, d in c.docs.items()}, lexical_state)
        c.generation = manifest.generation if not stray else ""
        return manifest

    def clear(self) -> None:
        """Delete every snapshot file (``pilotmatch reindex`` then rebuilds from the database)."""
        for c in self.corpora:
            self._manifest_path(c).unlink(missing_ok=True)
            for p in self.index_dir.glob(f"{c.name}.*.*"):
                p.unlink(missing_ok=True)

    def _advance_manifest(self, c: Corpus, position: int) -> None:
        """Only a generation this process wrote or loaded is known to match its memory."""
        manifest = IndexManifest.read(self._manifest_path(c))
        if manifest is not None and manifest.generation == c.generation and manifest.log_position < position:
            manifest.log_position = position
            _write_json(self._manifest_path(c), manifest.__dict__)

    def _drop_old_generations(self, c: Corpus, keep: str) -> None:
        """Remove older generations' files, sparing the newest other one (a process may be reading it)."""
        files = sorted(
            (
                p
                for p in self.index_dir.glob(f"{c.name}.*.*")
                if keep not in p.name and ".manifest." not in p.name and p.suffix != ".tmp"
            ),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        generations = list(dict.fromkeys(p.name.split(".")[1] for p in files))
        for p in files:
            if p.name.split(".")[1] in generations[1:]:
                p.unlink(missing_ok=True)

    def _manifest_path(self, c: Corpus) -> Path:
        return self.index_dir / f"{c.name}.manifest.json"

    def _files(self, c: Corpus, generation: str) -> tuple[Path, Path]:
        return (
            self.index_dir / f"{c.name}.{generation}.faiss",
            self.index_dir / f"{c.name}.{generation}.docs.pickle",
        )

    def _english_file(self, c: Corpus, generation: str) -> Path:
        return self.index_dir / f"{c.name}.{generation}.english.faiss"


def _write_pickle(path: Path, data: object) -> None:
    tmp = path.with_suffix(f"{path.suffix}.{os.getpid()}.{threading.get_ident()}.tmp")
    with tmp.open("wb") as f:
        pickle.dump(data, f, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)


def _write_json(path: Path, data: object) -> None:
    tmp = path.with_suffix(f"{path.suffix}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    tmp.replace(path)
