"""Path and query parameter types shared by routes.

``RowId`` is the type of every ``{..._id}`` in a path. It admits the ids a row can have on every backend
(1 to ``MAX_ROW_ID``); anything else, a number out of that range or not a number at all, names nothing, so the
problem handler answers 404 for it (see ``api.problems``), as it would for a well-formed id that is not stored.
Without the bound, an id beyond the database's integer type reaches the database and fails there.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Path, Query
from pydantic import BeforeValidator

from matcher.fields import MAX_ROW_ID

_DIGITS = re.compile(r"[1-9][0-9]{0,9}")


def _canonical(value: object) -> object:
    """Only the id's own spelling names it: ``1.0``, ``01`` and ``+1`` would make several paths alias one row
    (for logs, caches and proxy rules), so they name nothing."""
    if isinstance(value, str) and not _DIGITS.fullmatch(value):
        raise ValueError("a row id is written in digits, without sign, leading zeros or decimals")
    return value


RowId = Annotated[
    int, Path(ge=1, le=MAX_ROW_ID, description="A row id (1 to 2,147,483,647)."), BeforeValidator(_canonical)
]

#: ``?include_weak=true`` on routes that answer a technology's matches (as ``include_weak`` in a match request).
IncludeWeak = Annotated[
    bool,
    Query(
        description="Also return weak fits after the first PILOTMATCH_WEAK_RESULTS_SHOWN (3); left out by default."
    ),
]
