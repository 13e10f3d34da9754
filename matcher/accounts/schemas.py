"""What the key routes answer: a new key (shown once) and the keys of a platform (never the key itself)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from matcher.fields import Name, OptionalProvince


class KeyCreated(BaseModel):
    id: int
    key: str = Field(description="Shown only now; stored as a hash.")


class KeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class AdminKeyCreate(BaseModel):
    """An administrator key to issue. ``province`` keys administer one province; ``full`` keys the whole network
    (so each administrator has a key of their own, told apart in the audit trail). Every invalid field, the
    province rule included, is reported in one error."""

    model_config = ConfigDict(extra="forbid")

    scope: Literal["province", "full"] = Field(
        description="`province`: one province only; `full`: everything."
    )
    province: OptionalProvince = Field(
        default=None,
        validate_default=True,
        description="The province a `province` key governs (code, Chinese or English name; required for it); "
        "not for `full`.",
    )
    label: Name = Field(description="Who holds it, e.g. 'Jiangsu MIIT office'.")

    @field_validator("province")
    @classmethod
    def _province_fits_scope(cls, province: str | None, info: ValidationInfo) -> str | None:
        """A province key names its province; a full key none. Checked beside the other fields (``scope`` is
        validated first), so a request missing both the province and the label hears of both at once."""
        scope = info.data.get("scope")
        if scope == "province" and province is None:
            raise ValueError("a province key needs its province")
        if scope == "full" and province is not None:
            raise ValueError("a full administrator key governs every province: leave province out")
        return province


class AdminKeyCreated(BaseModel):
    id: int
    key: str = Field(description="Shown only now; stored as a hash.")
    scope: Literal["province", "full"]
    province: str | None
    label: str | None


class AdminKeyOut(BaseModel):
    id: int
    scope: Literal["province", "full"]
    province: str | None
    label: str | None
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
