"""Opaque keyset cursors: stable under concurrent inserts and deletes, unlike offsets."""

from __future__ import annotations

import base64

from sqlmodel import Session
from sqlmodel.sql.expression import Select

from matcher.errors import InvalidInput
from matcher.fields import MAX_ROW_ID


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, value = raw.split(":", 1)
        if kind != "id" or not 0 <= int(value) <= MAX_ROW_ID:  # beyond the column's type, the database raises
            raise ValueError(kind)
        return int(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("The cursor is not one this API returned.", field="cursor") from exc


def keyset_page(
    session: Session, stmt: Select, model: type, cursor: str | None, limit: int, *, newest_first: bool = False
) -> tuple[list, str | None]:  # type: ignore[type-arg]
    """One page of ``stmt`` ordered by ``model.id`` (ascending, or descending with ``newest_first``) after the
    cursor, and the cursor of the next page (None on the last)."""
    key = decode_cursor(cursor)
    column = model.id  # type: ignore[attr-defined]
    if key is not None:
        stmt = stmt.where(column < key if newest_first else column > key)
    stmt = stmt.order_by(column.desc() if newest_first else column).limit(limit + 1)
    rows = list(session.exec(stmt).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1].id) if more and rows else None)
