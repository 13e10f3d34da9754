"""CSV cells a spreadsheet opens as text, never as a formula.

A platform's operator writes its own name; a name such as ``=HYPERLINK(...)`` or ``@SUM(...)`` in an exported CSV
would run as a formula on the policy officer's machine (CSV injection, OWASP). Text that starts with one of the
characters spreadsheets read as a formula gets a leading apostrophe, which they show as nothing."""

from __future__ import annotations

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> object:
    """``value`` for a CSV row: text that a spreadsheet would evaluate is quoted with ``'``; numbers, None and
    other text pass as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
