"""Who is calling, and what that lets them touch: shared by the key checks, the services and the audit trail."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the (full) admin, a province administrator, or the holder of one platform's key."""

    role: str
    platform_id: int | None = None
    key_id: int | None = None
    #: The province a province administrator governs.
    province: str | None = None
    #: Signed in on the web (the audit trail tells an operator's session from a script using the key).
    web: bool = False

    @property
    def is_admin(self) -> bool:
        """The full admin: every platform, technology and report, and the network's tiers."""
        return self.role == "admin"

    @property
    def is_province_admin(self) -> bool:
        return self.role == PROVINCE

    @property
    def is_administrator(self) -> bool:
        """The full admin or a province administrator (what each may touch is then a matter of province)."""
        return self.is_admin or self.is_province_admin

    def governs(self, province: str | None) -> bool:
        """May administer rows of ``province``: the full admin everywhere, a province key only its own."""
        return self.is_admin or (
            self.is_province_admin and province is not None and province == self.province
        )

    def governs_any(self, provinces: Iterable[str]) -> bool:
        """May administer a row that belongs to each of ``provinces`` (a technology is of every province it
        prefers): the full admin always, a province key when its province is among them."""
        return self.is_admin or (self.is_province_admin and self.province in set(provinces))

    def acts_for(self, platform_id: int, province: str | None) -> bool:
        """May act for this platform: its own key, or an administrator over its province."""
        return self.platform_id == platform_id or self.governs(province)


#: The role of a province administrator's key.
PROVINCE = "province"
