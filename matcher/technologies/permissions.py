"""Who may write which technology.

A technology is "of" every province its researcher prefers (``preferred_provinces``). The full admin writes any;
a province administrator writes those of its province, and what it writes must stay of its province (it cannot
hand a technology to another province's care, nor create one outside its own). One without a preferred province
is the full admin's alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from matcher.accounts.principal import Principal
from matcher.errors import Forbidden, NotFound


def check_technology_write(
    actor: Principal, technology_id: int | None, before: Sequence[str] | None, after: Sequence[str]
) -> None:
    """Raise ``NotFound`` when a province administrator touches a technology of another province (``before``,
    its preferred provinces; None for a new one), ``Forbidden`` when the written technology (``after``) would
    leave its province. Anyone else is checked by the route (the admin key, or nothing for the CLI)."""
    if not actor.is_province_admin:
        return
    if before is not None and not actor.governs_any(before):
        raise NotFound(f"Technology {technology_id} does not exist.")
    if actor.province not in after:
        raise Forbidden(
            f"This key administers province {actor.province} only: the technology's preferred_provinces must "
            f"include {actor.province}."
        )
    dropped = sorted(set(before or ()) - set(after) - {actor.province})
    if dropped:
        raise Forbidden(
            f"This key administers province {actor.province} only: it cannot take the technology out of the care "
            f"of {', '.join(dropped)}."
        )
