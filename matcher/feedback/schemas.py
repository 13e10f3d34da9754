"""Feedback shapes at the edges."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict

from matcher.fields import FEEDBACK_REASON, VERDICT

Verdict = Annotated[Literal["good", "bad"], VERDICT]
Reason = Annotated[
    Literal["wrong_sector", "wrong_process", "wrong_scale", "too_early_stage", "no_capacity", "other"],
    FEEDBACK_REASON,
]
REASONS: tuple[str, ...] = get_args(get_args(Reason)[0])


class FeedbackCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"verdict": "bad", "reason": "wrong_process"}]}
    )

    verdict: Verdict
    reason: Reason | None = None


class FeedbackRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    technology_id: int
    platform_id: int
    verdict: Verdict
    reason: Reason | None
    score: float | None
    created_at: datetime
