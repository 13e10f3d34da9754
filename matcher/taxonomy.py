"""The pilot-test network's vocabulary: key areas, industry directions, tiers, service types, provinces.

The data lives in ``matcher/data/taxonomy.json`` (editable, versioned) and is loaded once. Validation helpers turn
user input (codes, or Chinese/English names for provinces) into canonical codes and raise ``InvalidInput`` listing
the valid codes when something is unknown; a check of several values names every unknown one at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from matcher.errors import FieldError, InvalidInput


@dataclass(frozen=True, slots=True)
class Direction:
    code: str
    area: str
    name_zh: str
    name_en: str
    description_zh: str
    description_en: str
    priority: bool


@dataclass(frozen=True, slots=True)
class Area:
    code: str
    name_zh: str
    name_en: str
    directions: tuple[Direction, ...]


@dataclass(frozen=True, slots=True)
class Coded:
    """A code with its bilingual names (tiers, service types, provinces, priority sectors)."""

    code: str
    name_zh: str
    name_en: str
    rank: int = 0
    directions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Taxonomy:
    """Read-only view of the taxonomy with lookups by code."""

    areas: tuple[Area, ...]
    tiers: tuple[Coded, ...]
    service_types: tuple[Coded, ...]
    provinces: tuple[Coded, ...]
    priority_sectors: tuple[Coded, ...]
    directions: dict[str, Direction] = field(default_factory=dict)
    _province_aliases: dict[str, str] = field(default_factory=dict)

    # ---- lookups -------------------------------------------------------------------------------------------
    @property
    def area_codes(self) -> list[str]:
        return [a.code for a in self.areas]

    @property
    def tier_codes(self) -> list[str]:
        return [t.code for t in self.tiers]

    @property
    def service_type_codes(self) -> list[str]:
        return [s.code for s in self.service_types]

    @property
    def province_codes(self) -> list[str]:
        return [p.code for p in self.provinces]

    @cached_property
    def priority_directions(self) -> frozenset[str]:
        return frozenset(d.code for d in self.directions.values() if d.priority)

    def tier_rank(self, code: str) -> int:
        return self._tier_ranks[code]

    @cached_property
    def _tier_ranks(self) -> dict[str, int]:
        return {t.code: t.rank for t in self.tiers}

    @cached_property
    def max_tier_rank(self) -> int:
        return max(t.rank for t in self.tiers)

    def area_of(self, direction: str) -> str:
        return self.directions[direction].area

    def province(self, code: str) -> Coded:
        return next(p for p in self.provinces if p.code == code)

    # ---- validation ----------------------------------------------------------------------------------------
    def check_area(self, code: str, field_name: str = "area") -> str:
        return _check_one(code, self.area_codes, field_name, "area")

    def check_tier(self, code: str, field_name: str = "tier") -> str:
        return _check_one(code, self.tier_codes, field_name, "tier")

    def check_directions(self, codes: Iterable[str], field_name: str = "directions") -> list[str]:
        return _check_many(codes, list(self.directions), field_name, "industry direction")

    def check_service_types(self, codes: Iterable[str], field_name: str = "service_types") -> list[str]:
        return _check_many(codes, self.service_type_codes, field_name, "service type")

    def check_tiers(self, codes: Iterable[str], field_name: str = "tier") -> list[str]:
        return _check_many(codes, self.tier_codes, field_name, "tier")

    def normalize_province(self, value: str, field_name: str = "province") -> str:
        """Accept a province code, its Chinese name (with or without 省/市/自治区) or its English name."""
        key = _province_key(value)
        if key in self._province_aliases:
            return self._province_aliases[key]
        raise InvalidInput.of(
            [
                FieldError(
                    field_name,
                    f"Unknown province {value!r}. Use one of: {', '.join(self.province_codes)} "
                    "(Chinese or English names are accepted too).",
                    self.province_codes,
                    value,
                )
            ]
        )

    def normalize_provinces(self, values: Iterable[str], field_name: str = "provinces") -> list[str]:
        return _each(values, field_name, self.normalize_province)

    def check_codes(self, data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
        """``data`` with each coded field it holds checked and canonical (``tier``, ``area``, ``directions``,
        ``service_types``, ``province``, ``preferred_provinces``; lists de-duplicated, provinces as codes). Raises
        one ``InvalidInput`` naming every unknown code, each field prefixed with ``prefix``."""
        checks: dict[str, Callable[[Any, str], Any]] = {
            "tier": self.check_tier,
            "area": self.check_area,
            "directions": self.check_directions,
            "service_types": self.check_service_types,
            "province": self.normalize_province,
            "preferred_provinces": self.normalize_provinces,
        }
        out = dict(data)
        errors: list[FieldError] = []
        for name, check in checks.items():
            value = data.get(name)
            if value is None or (name == "province" and not value):
                continue
            try:
                out[name] = check(value, f"{prefix}{name}")
            except InvalidInput as exc:
                errors.extend(exc.errors)
        if errors:
            raise InvalidInput.of(errors)
        return out

    # ---- serialisation -------------------------------------------------------------------------------------
    def as_dict(self) -> dict:
        """The shape served at ``GET /v1/taxonomy``."""
        return {
            "areas": [
                {
                    "code": a.code,
                    "name_zh": a.name_zh,
                    "name_en": a.name_en,
                    "directions": [
                        {"code": d.code, "name_zh": d.name_zh, "name_en": d.name_en, "priority": d.priority}
                        for d in a.directions
                    ],
                }
                for a in self.areas
            ],
            "tiers": [
                {"code": t.code, "name_zh": t.name_zh, "name_en": t.name_en, "rank": t.rank}
                for t in self.tiers
            ],
            "service_types": [
                {"code": s.code, "name_zh": s.name_zh, "name_en": s.name_en} for s in self.service_types
            ],
            "priority_sectors": [
                {"code": p.code, "name_zh": p.name_zh, "name_en": p.name_en, "directions": list(p.directions)}
                for p in self.priority_sectors
            ],
            "provinces": [
                {"code": p.code, "name_zh": p.name_zh, "name_en": p.name_en} for p in self.provinces
            ],
        }


_PROVINCE_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市")


def _province_key(value: str) -> str:
    v = value.strip()
    for suffix in _PROVINCE_SUFFIXES:
        if v.endswith(suffix) and len(v) > len(suffix):
            v = v[: -len(suffix)]
            break
    return v.lower().replace(" ", "_").replace("-", "_")


def _check_one(code: str, valid: list[str], field_name: str, what: str) -> str:
    if code in valid:
        return code
    raise InvalidInput.of(
        [FieldError(field_name, f"Unknown {what} {code!r}. Valid codes: {', '.join(valid)}.", valid, code)]
    )


def _check_many(codes: Iterable[str], valid: list[str], field_name: str, what: str) -> list[str]:
    return _each(codes, field_name, lambda code, name: _check_one(code, valid, name, what))


def _each(values: Iterable[str], field_name: str, check: Callable[[str, str], str]) -> list[str]:
    """Each value checked (``field_name[i]``), de-duplicated in order; one error names every bad one."""
    out: list[str] = []
    errors: list[FieldError] = []
    for i, value in enumerate(values):
        try:
            code = check(value, f"{field_name}[{i}]")
        except InvalidInput as exc:
            errors.extend(exc.errors)
            continue
        if code not in out:
            out.append(code)
    if errors:
        raise InvalidInput.of(errors)
    return out


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Load and index a taxonomy file (the bundled one unless ``path`` is given)."""
    if path is None:
        text = resources.files("matcher").joinpath("data/taxonomy.json").read_text(encoding="utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    raw = json.loads(text)
    priority_dirs = {d for p in raw["priority_sectors"] for d in p["directions"]}
    areas: list[Area] = []
    directions: dict[str, Direction] = {}
    for a in raw["areas"]:
        dirs = []
        for d in a["directions"]:
            direction = Direction(
                code=d["code"],
                area=a["code"],
                name_zh=d["name_zh"],
                name_en=d["name_en"],
                description_zh=d.get("description_zh", ""),
                description_en=d.get("description_en", ""),
                priority=d["code"] in priority_dirs,
            )
            if direction.code in directions:
                raise ValueError(f"taxonomy: duplicate direction code {direction.code}")
            directions[direction.code] = direction
            dirs.append(direction)
        areas.append(Area(a["code"], a["name_zh"], a["name_en"], tuple(dirs)))
    unknown = priority_dirs - set(directions)
    if unknown:
        raise ValueError(f"taxonomy: priority sectors name unknown directions {sorted(unknown)}")

    def coded(items: list[dict]) -> tuple[Coded, ...]:
        return tuple(
            Coded(i["code"], i["name_zh"], i["name_en"], i.get("rank", 0), tuple(i.get("directions", ())))
            for i in items
        )

    provinces = coded(raw["provinces"])
    aliases: dict[str, str] = {}
    for p in provinces:
        for alias in (p.code, p.name_zh, p.name_en):
            aliases[_province_key(alias)] = p.code
    return Taxonomy(
        areas=tuple(areas),
        tiers=coded(raw["tiers"]),
        service_types=coded(raw["service_types"]),
        provinces=provinces,
        priority_sectors=coded(raw["priority_sectors"]),
        directions=directions,
        _province_aliases=aliases,
    )


@cache
def default_taxonomy() -> Taxonomy:
    """The bundled taxonomy, loaded once per process."""
    return load_taxonomy()
