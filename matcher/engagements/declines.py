"""Declines that judge a pair: a platform that said a technology is the wrong sector or process for it is left
out of that technology's matches, and of its best score and unmet-demand verdict."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, select

from matcher.engagements.models import PlatformResponse

#: Reasons a platform gives that judge the pair itself (not the platform's moment): such a pair is never
#: suggested to that researcher again.
NOT_A_FIT = ("wrong_sector", "wrong_process")


def declined_platforms(db: Engine, technology_id: int) -> frozenset[int]:
    """Platforms that declined this technology as the wrong sector or process: its matches leave them out."""
    with Session(db) as s:
        rows = s.exec(
            select(PlatformResponse.platform_id).where(
                PlatformResponse.technology_id == technology_id,
                PlatformResponse.decision == "declined",
                PlatformResponse.reason.in_(NOT_A_FIT),  # type: ignore[union-attr]
            )
        ).all()
    return frozenset(rows)
