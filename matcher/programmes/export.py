"""A run as a table: one row per assigned pair with the names and contacts a fair's organisers need, for the
CSV export and the web page.

The platform's contact is part of its public profile. The technology's (its researcher's) contact is filled in
for the administrators over the technology, as ``GET /v1/technologies/{id}`` shows it: the full admin, and a
province key while the technology prefers its province; blank for anyone else. A platform or technology deleted
since the run keeps its row (the pair was assigned) with its names and contacts blank.
"""

from __future__ import annotations

import csv
import io
from dataclasses import astuple, dataclass, fields

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from matcher.accounts.principal import Principal
from matcher.platforms.models import Platform
from matcher.programmes.models import AssignmentRun
from matcher.programmes.notices import assigned_pairs
from matcher.reports.cells import cell
from matcher.technologies.models import Technology


@dataclass(frozen=True, slots=True)
class AssignmentRow:
    technology_id: int
    technology_title: str | None
    platform_id: int
    platform_name: str | None
    score: float
    platform_contact: str | None
    technology_contact: str | None


def assignment_rows(db: Engine, run: AssignmentRun, actor: Principal) -> list[AssignmentRow]:
    """The run's pairs in its order (technologies as requested, each one's platforms best first)."""
    pairs = assigned_pairs(run)
    with Session(db) as s:
        techs = {
            t.id: (t.title, t.contact if actor.governs_any(t.preferred_provinces or ()) else None)
            for t in s.exec(select(Technology).where(col(Technology.id).in_({t for t, _, _ in pairs}))).all()
        }
        platforms = {
            p.id: (p.name, p.contact)
            for p in s.exec(select(Platform).where(col(Platform.id).in_({p for _, p, _ in pairs}))).all()
        }
    rows = []
    for tid, pid, score in pairs:
        title, researcher = techs.get(tid, (None, None))
        name, contact = platforms.get(pid, (None, None))
        rows.append(AssignmentRow(tid, title, pid, name, score, contact, researcher))
    return rows


def assignment_csv(rows: list[AssignmentRow]) -> str:
    """The rows with a header of their field names; text a spreadsheet would run as a formula is quoted."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([f.name for f in fields(AssignmentRow)])
    for row in rows:
        writer.writerow(["" if v is None else cell(v) for v in astuple(row)])
    return out.getvalue()
