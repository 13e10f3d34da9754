"""Domain exceptions. The API maps each to one RFC 9457 problem type; the CLI prints its message."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class PilotMatchError(Exception):
    """Base of every error the domain raises on purpose."""

    title = "PilotMatch error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(PilotMatchError):
    """The named platform, technology or other record does not exist (or is not visible to the caller)."""

    title = "Not found"


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid value: where (a JSON path such as ``directions[1]``, or ``line 3.tier`` in an import), what is
    wrong, and for an unknown code the code as sent and the valid ones."""

    field: str
    message: str
    allowed: list[str] | None = None
    value: str | None = None


class InvalidInput(PilotMatchError):
    """Input is well-formed JSON but breaks a domain rule (unknown code, TRL range, ...).

    ``errors`` names every invalid value found, each with its field as a JSON path (``directions[1]``) so clients
    can show it beside the input; ``field`` and ``allowed`` are the first one's.
    """

    title = "Invalid input"

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        allowed: Sequence[str] | None = None,
        errors: Sequence[FieldError] = (),
    ) -> None:
        super().__init__(detail)
        self.errors = list(errors) or [
            FieldError(field or "body", detail, list(allowed) if allowed is not None else None)
        ]
        self.field = field if field is not None else self.errors[0].field
        self.allowed = list(allowed) if allowed is not None else self.errors[0].allowed

    @classmethod
    def of(cls, errors: Sequence[FieldError]) -> InvalidInput:
        """One error naming all of ``errors`` (at least one); its detail is the one message, or lists the first
        five with their fields."""
        if len(errors) == 1:
            return cls(errors[0].message, errors=errors)
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        if len(errors) > 5:
            detail += f"; and {len(errors) - 5} more"
        return cls(detail, errors=errors)


class Forbidden(PilotMatchError):
    """The caller is known but may not do this (a platform operator changing its own tier)."""

    title = "Forbidden"


class Conflict(PilotMatchError):
    """The write would break a uniqueness rule, e.g. a second platform with the same ``external_id``."""

    title = "Conflict"


class SchemaTooNew(PilotMatchError):
    """The database was migrated by a newer PilotMatch; this version refuses to touch it."""

    title = "Database schema is newer than this PilotMatch"
