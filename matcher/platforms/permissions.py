"""Who may set which fields of a platform profile.

The network is run in layers: MIIT sets the tiers it awards (``key_cultivated``, ``national``); a province's
industry department looks after the platforms of its province; a platform's operator keeps its own profile but not
its standing. These rules are checked on the merged profile, before anything is embedded or stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from matcher.accounts.principal import Principal
from matcher.errors import Forbidden
from matcher.platforms.models import Platform

#: A platform's operator edits its profile, but its standing in the network is the administrator's to set.
ADMIN_ONLY_FIELDS = frozenset({"tier", "external_id"})

#: Tiers only the full admin awards or withdraws (MIIT's own selections).
NETWORK_TIERS = frozenset({"key_cultivated", "national"})

#: The tiers a province administrator gives: it recommends platforms into the reserve pool and names its own
#: provincial ones (``unlisted``, out of the pool, is the full admin's to set).
PROVINCE_TIERS = frozenset({"reserve", "provincial"})


def check_platform_write(
    actor: Principal, before: Mapping[str, Any] | None, after: Mapping[str, Any], sent: Set[str]
) -> None:
    """Raise ``Forbidden`` when ``actor`` may not turn ``before`` (None for a new platform) into ``after``.
    ``sent`` names the fields the request set (an operator may not even send the admin's fields)."""
    if actor.is_admin or actor.role in {"system", "cli"}:
        return
    if actor.is_province_admin:
        if after.get("province") != actor.province:
            raise Forbidden(
                f"This key administers province {actor.province} only; the platform's province must stay "
                f"{actor.province}."
            )
        old_tier = before.get("tier") if before is not None else None
        new_tier = after.get("tier")
        if new_tier != old_tier and (old_tier in NETWORK_TIERS or new_tier not in PROVINCE_TIERS):
            raise Forbidden(
                "A province administrator gives the tiers reserve and provincial only; the full administrator "
                "awards or withdraws key_cultivated and national, and sets unlisted."
            )
        return
    if before is None:
        raise Forbidden("Only an administrator creates platforms; a platform may apply instead.")
    if sent & ADMIN_ONLY_FIELDS:
        fields = ", ".join(sorted(sent & ADMIN_ONLY_FIELDS))
        raise Forbidden(f"Only the network administrator may change {fields}.")
    # The province decides which administrator looks after the platform: moving it is an administrator's act
    # (the web form sends the province unchanged, which is fine).
    if after.get("province") != before.get("province"):
        raise Forbidden(
            "The platform's province is set by its administrators (it decides who looks after the platform); "
            "ask the full administrator to move it."
        )


def check_platform_delete(actor: Principal, platform: Mapping[str, Any]) -> None:
    """A province administrator deletes only platforms it could also have created: not those of a tier the full
    administrator awards."""
    if actor.is_province_admin and platform.get("tier") in NETWORK_TIERS:
        raise Forbidden(
            f"Platform tier {platform.get('tier')} is awarded by the full administrator, who alone may delete it."
        )


def platform_province(db: Engine, platform_id: int) -> tuple[bool, str | None]:
    """Whether the platform exists, and its province (what decides which province administrator governs it)."""
    with Session(db) as s:
        row = s.exec(select(Platform.id, Platform.province).where(Platform.id == platform_id)).first()
    return (False, None) if row is None else (True, row[1])
