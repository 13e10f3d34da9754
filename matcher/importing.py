"""Bulk loading: JSONL platform files and the bundled demo data.

Imports upsert by ``external_id`` in batches, so an interrupted import can simply be run again. Every line is
validated before anything is stored; a bad line is reported with its line number and nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pydantic import ValidationError
from sqlmodel import select

from matcher.errors import InvalidInput
from matcher.platforms.schemas import PlatformCreate
from matcher.platforms.service import create_platforms
from matcher.runtime import Runtime
from matcher.technologies.models import Technology
from matcher.technologies.schemas import TechnologyCreate
from matcher.technologies.service import create_technology

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class ImportReport:
    platforms: int
    technologies: int = 0


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
    rt: Runtime, items: list[PlatformCreate], *, batch: int = 500, progress: Progress | None = None
) -> int:
    """Upsert platforms in batches; the whole list is validated against the taxonomy first."""
    done = 0
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        create_platforms(rt, chunk, upsert=True, field_prefix=f"items[{start}:]")
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


def seed_demo(rt: Runtime, *, progress: Progress | None = None) -> ImportReport:
    """Load the bundled demo platforms and technologies; running it again changes nothing."""
    platforms = import_platforms(rt, demo_platforms(), progress=progress)
    added = 0
    with rt.session() as s:
        known = {e for e in s.exec(select(Technology.external_id)).all() if e}
    for tech in demo_technologies():
        if tech.external_id not in known:
            create_technology(rt, tech)
            added += 1
    return ImportReport(platforms=platforms, technologies=added)
