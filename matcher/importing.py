"""Bulk loading: JSONL platform files and the bundled demo data.

Imports upsert by ``external_id`` in batches, so an interrupted import can simply be run again. Every line is
validated before anything is stored; a bad line is reported with its line number and nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from pydantic import ValidationError
from sqlmodel import delete, select

from matcher import indexing
from matcher.accounts.service import revoke_platform_access
from matcher.errors import InvalidInput
from matcher.indexing import PLATFORM, TECHNOLOGY
from matcher.platforms.models import Platform
from matcher.platforms.schemas import PlatformCreate
from matcher.platforms.service import create_platforms
from matcher.runtime import Runtime
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
    items: list[PlatformCreate] = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            items.append(PlatformCreate.model_validate(json.loads(line)))
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{source}:{n}: not valid JSON ({exc.msg}).", field=f"line {n}") from exc
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(x) for x in err["loc"])
            raise InvalidInput(f"{source}:{n}: {where}: {err['msg']}", field=f"line {n}.{where}") from exc
    return items


def import_platforms(
    rt: Runtime,
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
            rt, chunk, upsert=True, field_prefix=f"items[{start}:]", known=known, match_now=False
        )
        done += len(chunk)
        if progress:
            progress(done, len(items))
    return done


def import_platforms_file(rt: Runtime, path: Path, *, progress: Progress | None = None) -> int:
    with path.open(encoding="utf-8") as f:
        items = read_platforms_jsonl(iter(f), str(path))
    return import_platforms(rt, items, progress=progress)


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
    rt: Runtime,
    *,
    progress: Progress | None = None,
    known: Mapping[str, Mapping[str, np.ndarray]] | None = None,
) -> ImportReport:
    """Load the bundled demo platforms and technologies into an empty database.

    A database that already holds platforms is left exactly as it is (``ImportReport.skipped``): running the demo
    again must never undo an operator's edits or bring back what they deleted. ``reset_to_demo`` is the explicit
    way back.
    """
    with rt.session() as s:
        if s.exec(select(Platform.id).limit(1)).first() is not None:
            return ImportReport(platforms=0, technologies=0, skipped=True)
    known = known or {}
    platforms = import_platforms(rt, demo_platforms(), progress=progress, known=known.get(PLATFORM))
    with rt.session() as s:
        stored = {e for e in s.exec(select(Technology.external_id)).all() if e}
    added = 0
    for tech in demo_technologies():
        if tech.external_id not in stored:
            create_technology(rt, tech, known=known.get(TECHNOLOGY))
            added += 1
    return ImportReport(platforms=platforms, technologies=added)


def reset_to_demo(rt: Runtime, *, progress: Progress | None = None) -> ImportReport:
    """Delete every platform and technology (with their notifications, webhooks, feedback and platform keys) in
    one transaction, then load the demo. Admin keys and service secrets stay. Deleted ids are not reused, so the
    demo comes back under new ids."""
    # The demo's texts are usually indexed already: their vectors are kept and stored under the new ids.
    known = {corpus: indexing.vectors_by_content(rt.engine, corpus) for corpus in (PLATFORM, TECHNOLOGY)}
    with rt.engine.write_lock, rt.session() as s:
        platform_ids = list(s.exec(select(Platform.id)).all())
        technology_ids = list(s.exec(select(Technology.id)).all())
        for platform_id in platform_ids:
            revoke_platform_access(s, platform_id)  # type: ignore[arg-type]
        s.exec(delete(Technology))  # type: ignore[arg-type]
        s.exec(delete(Platform))  # type: ignore[arg-type]
        record_changes(s, rt.instance_id, PLATFORM, platform_ids)  # type: ignore[arg-type]
        record_changes(s, rt.instance_id, TECHNOLOGY, technology_ids)  # type: ignore[arg-type]
        s.commit()
        indexing.apply(rt.engine, PLATFORM, [(i, None, None) for i in platform_ids])  # type: ignore[misc]
        indexing.apply(rt.engine, TECHNOLOGY, [(i, None, None) for i in technology_ids])  # type: ignore[misc]
    return seed_demo(rt, progress=progress, known=known)
