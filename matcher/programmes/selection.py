"""Which open technologies a programme takes when they are chosen by filters rather than listed (the web page)."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from matcher.taxonomy import Taxonomy
from matcher.technologies.models import Technology


def open_technologies(
    db: Engine,
    taxonomy: Taxonomy,
    *,
    direction: str | None = None,
    area: str | None = None,
    province: str | None = None,
    limit: int = 1000,
) -> list[Technology]:
    """Open technologies, oldest first, up to ``limit``: of ``direction`` (chosen by the researcher, or inferred
    when they chose none, as the coverage report counts them), of a direction in ``area``, and preferring
    ``province``. Codes are the caller's to check."""
    with Session(db, expire_on_commit=False) as s:
        rows = s.exec(
            select(Technology).where(Technology.status == "open").order_by(col(Technology.id))
        ).all()
    out = []
    for t in rows:
        directions = list(t.directions or ()) or list(t.matched_directions or ())
        if direction is not None and direction not in directions:
            continue
        if area is not None and not any(
            d in taxonomy.directions and taxonomy.area_of(d) == area for d in directions
        ):
            continue
        if province is not None and province not in (t.preferred_provinces or ()):
            continue
        out.append(t)
        if len(out) == limit:
            break
    return out
