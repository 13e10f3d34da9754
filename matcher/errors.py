"""Domain exceptions. The API maps each to one RFC 9457 problem type; the CLI prints its message."""

from __future__ import annotations

from collections.abc import Sequence


class PilotMatchError(Exception):
    """Base of every error the domain raises on purpose."""

    title = "PilotMatch error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(PilotMatchError):
    """The named platform, technology or other record does not exist (or is not visible to the caller)."""

    title = "Not found"


class InvalidInput(PilotMatchError):
    """Input is well-formed JSON but breaks a domain rule (unknown code, TRL range, ...).

    ``field`` names the offending field as a JSON path (``directions[1]``) so clients can show it beside the input.
    """

    title = "Invalid input"

    def __init__(
        self, detail: str, *, field: str | None = None, allowed: Sequence[str] | None = None
    ) -> None:
        super().__init__(detail)
        self.field = field
        self.allowed = list(allowed) if allowed is not None else None


class Forbidden(PilotMatchError):
    """The caller is known but may not do this (a platform operator changing its own tier)."""

    title = "Forbidden"


class Conflict(PilotMatchError):
    """The write would break a uniqueness rule, e.g. a second platform with the same ``external_id``."""

    title = "Conflict"


class SchemaTooNew(PilotMatchError):
    """The database was migrated by a newer PilotMatch; this version refuses to touch it."""

    title = "Database schema is newer than this PilotMatch"
