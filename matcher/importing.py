"""Bulk loading: JSONL platform files and the bundled demo data.

Imports upsert by ``external_id`` in batches, so an interrupted import can simply be run again. Every line is
validated (fields, codes against the taxonomy, the TRL range, an ``external_id`` repeated in the file) before
anything is stored: if any line is bad, one ``InvalidInput`` names every error of every bad line with its line
number and field, and nothing is written. Once all lines are valid, each batch is stored in its own transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, delete, select

from matcher import indexing
from matcher.accounts.service import revoke_platform_access
from matcher.audit.service import CLI, record
from matcher.engagements.demo import seed_engagements
from matcher.errors import FieldError, InvalidInput
from matcher.fields import field_errors
from matcher.indexing import PLATFORM, TECHNOLOGY
from matcher.matching.engine import MatchEngine
from matcher.platforms.models import Platform
from matcher.platforms.schemas import PlatformCreate
from matcher.platforms.service import create_platforms
from matcher.settings import Settings
from matcher.sync import record_changes
from matcher.technologies.models import Technology
from matcher.technologies.schemas import TechnologyCreate
from matcher.technologies.service import create_technology

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class ImportReport:
    platforms: int
    technologies: int = 0
    #: True when the database already had platforms and nothing was loaded.
    skipped: bool = False


def read_platforms_jsonl(lines: Iterator[str], source: str) -> list[PlatformCreate]:
    """Parse and validate every line; raise one ``InvalidInput`` naming each error of each bad line (its field is
    ``line N.path``, its detail one ``source:N: path: message`` line per error)."""
    items: list[PlatformCreate] = []
    errors: list[FieldError] = []
    first_line: dict[str, int] = {}
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = PlatformCreate.model_validate(json.loads(line))
        except json.JSONDecodeError as exc:
            errors.append(FieldError(f"line {n}", f"not valid JSON ({exc.msg})"))
            continue
        except RecursionError:
            errors.append(FieldError(f"line {n}", "not valid JSON (nested too deeply)"))
            continue
        except ValidationError as exc:
            errors.extend(field_errors(exc.errors(), f"line {n}."))
            continue
        if item.external_id is not None:
            if item.external_id in first_line:
                errors.append(
                    FieldError(
                        f"line {n}.external_id",
                        f"external_id {item.external_id!r} is already on line {first_line[item.external_id]}",
                        value=item.external_id,
                    )
                )
                continue
            first_line[item.external_id] = n
        items.append(item)
    if errors:
        raise _bad_lines(source, errors)
    return items


def _bad_lines(source: str, errors: list[FieldError]) -> InvalidInput:
    lines = []
    for e in errors:
        line, _, path = e.field.partition(".")
        lines.append(f"{source}:{line.removeprefix('line ')}: {path + ': ' if path else ''}{e.message}")
    count = len({e.field.partition(".")[0] for e in errors})
    head = f"{count} line{'s' if count > 1 else ''} of {source} {'are' if count > 1 else 'is'} invalid; nothing was stored:"
    return InvalidInput("\n".join([head, *lines]), errors=errors)


def import_platforms(
    db: Engine,
    engine: MatchEngine,
    settings: Settings,
    items: list[PlatformCreate],
    *,
    batch: int = 500,
    progress: Progress | None = None,
    known: Mapping[str, np.ndarray] | None = None,
) -> int:
    """Upsert platforms in batches; the whole list is validated against the taxonomy first."""
    done = 0
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        create_platforms(
            db,
            engine,
            settings,
            chunk,
            upsert=True,
            field_prefix=f"items[{start}:]",
            known=known,
            match_now=False,
            actor=CLI,
        )
        done += len(chunk)
        if progress:
            progress(done, len(items))
    return done


def read_platforms_file(path: Path) -> list[PlatformCreate]:
    """``read_platforms_jsonl`` of a UTF-8 file: every line valid, or one ``InvalidInput`` naming each error."""
    try:
        with path.open(encoding="utf-8") as f:
            return read_platforms_jsonl(iter(f), str(path))
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}).", field="file"
        ) from exc


def import_platforms_file(
    db: Engine, engine: MatchEngine, settings: Settings, path: Path, *, progress: Progress | None = None
) -> int:
    return import_platforms(db, engine, settings, read_platforms_file(path), progress=progress)


def _demo_files(kind: str) -> list[tuple[str, str]]:
    folder = resources.files("matcher").joinpath(f"data/demo/{kind}")
    return sorted(
        (f.name, f.read_text(encoding="utf-8")) for f in folder.iterdir() if f.name.endswith(".jsonl")
    )


def demo_platforms() -> list[PlatformCreate]:
    items: list[PlatformCreate] = []
    for name, text in _demo_files("platforms"):
        items.extend(read_platforms_jsonl(iter(text.splitlines()), f"demo/platforms/{name}"))
    return items


def demo_technologies() -> list[TechnologyCreate]:
    items: list[TechnologyCreate] = []
    for name, text in _demo_files("technologies"):
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            raw = json.loads(line)
            raw["service_types"] = raw.pop("wanted_service_types", raw.get("service_types", []))
            try:
                items.append(TechnologyCreate.model_validate(raw))
            except ValidationError as exc:
                raise InvalidInput(f"demo/technologies/{name}:{n}: {exc.errors()[0]['msg']}") from exc
    return items


def seed_demo(
    db: Engine,
    engine: MatchEngine,
    settings: Settings,
    *,
    progress: Progress | None = None,
    known: Mapping[str, Mapping[str, np.ndarray]] | None = None,
) -> ImportReport:
    """Load the bundled demo platforms and technologies into an empty database, with a spread of the platforms'
    answers and engagements (``matcher.engagements.demo``).

    A database that already holds platforms is left exactly as it is (``ImportReport.skipped``): running the demo
    again must never undo an operator's edits or bring back what they deleted. ``reset_to_demo`` is the explicit
    way back.
    """
    with Session(db) as s:
        if s.exec(select(Platform.id).limit(1)).first() is not None:
            return ImportReport(platforms=0, technologies=0, skipped=True)
    known = known or {}
    platforms = import_platforms(
        db, engine, settings, demo_platforms(), progress=progress, known=known.get(PLATFORM)
    )
    with Session(db) as s:
        stored = {e for e in s.exec(select(Technology.external_id)).all() if e}
    added = 0
    for tech in demo_technologies():
        if tech.external_id not in stored:
            create_technology(db, engine, settings, tech, known=known.get(TECHNOLOGY))
            added += 1
    if added:
        seed_engagements(db, engine, settings)
    return ImportReport(platforms=platforms, technologies=added)


def reset_to_demo(
    db: Engine, engine: MatchEngine, settings: Settings, *, progress: Progress | None = None
) -> ImportReport:
    """Delete every platform and technology (with their notifications, webhooks, feedback and platform keys) in
    one transaction, then load the demo. Admin keys and service secrets stay. Deleted ids are not reused, so the
    demo comes back under new ids."""
    # The demo's texts are usually indexed already: their vectors are kept and stored under the new ids.
    known = {corpus: indexing.vectors_by_content(engine, corpus) for corpus in (PLATFORM, TECHNOLOGY)}
    with engine.write_lock, Session(db, expire_on_commit=False) as s:
        platform_ids = list(s.exec(select(Platform.id)).all())
        technology_ids = list(s.exec(select(Technology.id)).all())
        for platform_id in platform_ids:
            revoke_platform_access(s, platform_id)  # type: ignore[arg-type]
            record(s, platform_id, "platform", "deleted", CLI, {"reset": [False, True]}, platform_id)  # type: ignore[arg-type]
        s.exec(delete(Technology))  # type: ignore[arg-type]
        s.exec(delete(Platform))  # type: ignore[arg-type]
        record_changes(s, engine.origin, PLATFORM, platform_ids)  # type: ignore[arg-type]
        record_changes(s, engine.origin, TECHNOLOGY, technology_ids)  # type: ignore[arg-type]
        s.commit()
        indexing.apply(engine, PLATFORM, [(i, None, None) for i in platform_ids])  # type: ignore[misc]
        indexing.apply(engine, TECHNOLOGY, [(i, None, None) for i in technology_ids])  # type: ignore[misc]
    return seed_demo(db, engine, settings, progress=progress, known=known)
