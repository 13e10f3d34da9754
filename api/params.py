"""Path parameter types shared by routes.

``RowId`` is the type of every ``{..._id}`` in a path. It admits the ids a row can have on every backend
(1 to ``MAX_ROW_ID``); anything else, a number out of that range or not a number at all, names nothing, so the
problem handler answers 404 for it (see ``api.problems``), as it would for a well-formed id that is not stored.
Without the bound, an id beyond the database's integer type reaches the database and fails there.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from matcher.fields import MAX_ROW_ID

RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="A row id (1 to 2,147,483,647).")]
