"""Which part of the network a caller's reports cover.

A province administrator's reports are its province's, whatever it asks: leaving ``province`` out, or sending its
own, gives its province; another province is refused with 403 (province codes are public, so the refusal reveals
nothing, and a script that sent the wrong code learns why at once instead of reading an empty report). Everyone
else's reports cover what they ask.
"""

from __future__ import annotations

from matcher.accounts.principal import Principal
from matcher.errors import Forbidden
from matcher.reports.schemas import ReportFilters


def report_province(principal: Principal | None, asked: str | None) -> str | None:
    """The province a report covers for ``principal`` when ``asked`` (a code, or None for all) was asked."""
    if principal is None or not principal.is_province_admin:
        return asked
    if asked is not None and asked != principal.province:
        raise Forbidden(
            f"This key reports on province {principal.province} only: leave province out, or send "
            f"{principal.province}."
        )
    return principal.province


def scoped_filters(principal: Principal | None, filters: ReportFilters) -> ReportFilters:
    """``filters`` with the province the caller's reports cover."""
    return filters.model_copy(update={"province": report_province(principal, filters.province)})
