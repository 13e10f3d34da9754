"""How stored records become matchable documents: the text each channel sees, and its content hash."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

import numpy as np

from matcher.matching.pickling import by_fields
from matcher.matching.ranking import NeedFacts, PlatformFacts
from matcher.matching.text import LanguageMix, language_mix, lexical_tokens, normalize_text, split_passages


class PlatformFields(Protocol):
    """The fields of a stored platform a document is built from (a ``Platform`` row has them all)."""

    id: int | None
    name: str
    name_en: str | None
    organization: str | None
    province: str | None
    city: str | None
    tier: str
    area: str
    directions: Sequence[str] | None
    service_types: Sequence[str] | None
    capabilities: str
    equipment: Sequence[str] | None
    scale: str | None
    trl_min: int | None
    trl_max: int | None
    capacity: int | None
    #: Set while the platform has declined for want of capacity (its capacity factor is then zero).
    capacity_paused_at: datetime | None
    #: Set once the profile went unconfirmed past its grace period (it then loses ties to fresh profiles).
    stale_since: datetime | None


class TechnologyFields(Protocol):
    """The fields of a stored technology a document is built from (a ``Technology`` row has them all)."""

    id: int | None
    title: str | None
    summary: str
    status: str
    trl: int | None
    directions: Sequence[str] | None
    preferred_provinces: Sequence[str] | None
    service_types: Sequence[str] | None


@dataclass(frozen=True, slots=True)
class PlatformDoc:
    """A platform as the match engine holds it in memory: passages to embed, tokens, facts and a display card."""

    __reduce__ = by_fields

    id: int
    passages: tuple[str, ...]
    tokens: tuple[str, ...]
    lang: LanguageMix
    facts: PlatformFacts
    card: dict
    content_hash: str


@dataclass(frozen=True, slots=True)
class TechnologyDoc:
    __reduce__ = by_fields

    id: int
    text: str
    tokens: tuple[str, ...]
    lang: LanguageMix
    facts: NeedFacts
    card: dict
    content_hash: str
    #: The technology's best raw score against the platforms when it was last indexed (None: not yet known);
    #: calibration reads a reverse-direction pair against it. A better platform added later raises it in use.
    best_raw: float | None = None
    #: Its query vector as feedback moved it then (``MatchEngine._expanded``; None where feedback does not
    #: apply): the reverse direction scores with it, as the forward match does.
    expanded: np.ndarray | None = None
    #: The feedback settings ``expanded`` was worked out under (None: not yet worked out).
    expansion: tuple[float, int, int, str] | None = None


def _hash(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()[:32]


def platform_text(p: PlatformFields) -> tuple[str, str]:
    """(title line, body) of a platform: the body is what gets split into passages."""
    title = " / ".join(x for x in (p.name, p.name_en) if x)
    parts = [p.capabilities]
    if p.equipment:
        parts.append("设备 Equipment: " + "; ".join(p.equipment))
    if p.scale:
        parts.append("规模 Scale: " + p.scale)
    return normalize_text(title), normalize_text("\n".join(parts))


def platform_doc(p: PlatformFields, passage_chars: int, model_id: str) -> PlatformDoc:
    """Every passage starts with the platform's name, so a passage read alone still says whose it is.

    A row not yet stored (``id`` None) gets id 0; ``with_id`` fills in the real one after the insert, so
    embedding can run before the database transaction.
    """
    title, body = platform_text(p)
    chunks = split_passages(body, passage_chars) or [""]
    passages = tuple(f"{title}: {c}".strip(": ") for c in chunks)
    full = f"{title}\n{body}"
    return PlatformDoc(
        id=p.id or 0,
        passages=passages,
        tokens=tuple(lexical_tokens(full)),
        lang=language_mix(full),
        facts=PlatformFacts(
            id=p.id or 0,
            tier=p.tier,
            area=p.area,
            directions=tuple(p.directions or ()),
            service_types=tuple(p.service_types or ()),
            province=p.province,
            trl_min=p.trl_min,
            trl_max=p.trl_max,
            capacity=p.capacity,
            capacity_paused=p.capacity_paused_at is not None,
            stale=p.stale_since is not None,
        ),
        card={
            "name": p.name,
            "name_en": p.name_en,
            "organization": p.organization,
            "province": p.province,
            "city": p.city,
            "tier": p.tier,
            "area": p.area,
            "directions": list(p.directions or ()),
            "service_types": list(p.service_types or ()),
        },
        content_hash=_hash(model_id, str(passage_chars), *passages),
    )


def technology_text(t: TechnologyFields) -> str:
    return normalize_text("\n".join(x for x in (t.title, t.summary) if x))


def technology_need(t: TechnologyFields) -> NeedFacts:
    """What a stored technology asks for (its own choices; inferred directions come from matching)."""
    return NeedFacts(
        directions=tuple(t.directions or ()),
        trl=t.trl,
        provinces=tuple(t.preferred_provinces or ()),
        service_types=tuple(t.service_types or ()),
    )


def technology_doc(t: TechnologyFields, model_id: str) -> TechnologyDoc:
    text = technology_text(t)
    return TechnologyDoc(
        id=t.id or 0,
        text=text,
        tokens=tuple(lexical_tokens(text)),
        lang=language_mix(text),
        facts=technology_need(t),
        card={"title": t.title, "summary": t.summary, "status": t.status, "trl": t.trl},
        content_hash=_hash(model_id, text),
    )


def with_id(doc: PlatformDoc | TechnologyDoc, item_id: int) -> PlatformDoc | TechnologyDoc:
    """The same document under its stored id."""
    if isinstance(doc, PlatformDoc):
        return replace(doc, id=item_id, facts=replace(doc.facts, id=item_id))
    return replace(doc, id=item_id)
