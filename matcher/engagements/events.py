"""What the loop tells each side: inbox notifications and webhooks for the platform, e-mail for the researcher.

Every notification is stored in the transaction that made the change, so a change and its news are one.
A researcher's contact travels only in ``introduction.made``: the moment both sides said yes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session

from matcher.engagements.models import Introduction, IntroductionEvent, ResearcherEmail
from matcher.engagements.schemas import EventOut
from matcher.notifications.email import email_address
from matcher.notifications.outbox import (
    ENGAGEMENT_UPDATED,
    INTRODUCTION_MADE,
    store_notifications,
    technology_body,
)
from matcher.platforms.models import Platform
from matcher.settings import Settings
from matcher.technologies.models import Technology


def _introduction_body(intro: Introduction) -> dict:
    return {
        "id": intro.id,
        "technology_id": intro.technology_id,
        "platform_id": intro.platform_id,
        "status": intro.status,
        "declined_by": intro.declined_by,
        "message": intro.message,
        "outcome": intro.outcome,
        "trl_reached": intro.trl_reached,
        "note": intro.note,
        "introduced_at": intro.introduced_at.isoformat() if intro.introduced_at else None,
    }


def _event_body(e: IntroductionEvent) -> dict:
    """The event as the API shows it in an introduction's ``events``."""
    return EventOut.of(e).model_dump(mode="json", by_alias=True)


def tell_platform(
    s: Session,
    settings: Settings,
    kind: str,
    intro: Introduction,
    tech: Technology,
    event: IntroductionEvent | None = None,
) -> None:
    """Store one ``introduction.*`` or ``engagement.updated`` notification for the introduction's platform,
    with its webhook deliveries (and its e-mail digest when configured). The researcher's contact is only in
    ``introduction.made``: the platform has it from then on, and later events need not repeat it."""
    technology = technology_body(tech)
    if kind == INTRODUCTION_MADE:  # the one event that carries the researcher's contact
        technology["contact"] = tech.contact
    data = {
        "platform_id": intro.platform_id,
        "introduction": _introduction_body(intro),
        "technology": technology,
    }
    if event is not None:
        data["event"] = _event_body(event)
    note = {
        "platform_id": intro.platform_id,
        "technology_id": intro.technology_id,
        "type": kind,
        "score": None,
        "payload": {"type": kind, "timestamp": datetime.now(UTC).isoformat(timespec="seconds"), "data": data},
    }
    store_notifications(s, [note], email=settings.smtp_url is not None and kind != ENGAGEMENT_UPDATED)


def tell_researcher(
    s: Session, settings: Settings, intro: Introduction, tech: Technology, platform: Platform
) -> None:
    """Queue the e-mail that tells a researcher the introduction was made (when their contact is one address
    and e-mail is configured); the worker sends and retries it."""
    to = email_address(tech.contact)
    if to is None or settings.smtp_url is None:
        return
    title = tech.title or tech.summary[:60]
    name = platform.name if not platform.name_en else f"{platform.name} / {platform.name_en}"
    body = "\n".join(
        [
            f"您的技术“{title}”已与中试平台“{platform.name}”完成引荐。",
            f'Your technology "{title}" has been introduced to the pilot-test platform {name}.',
            "",
            f"平台联系方式 / Platform contact: {platform.contact or '-'}",
            f"所属单位 / Organisation: {platform.organization or '-'}",
            "",
            "平台也已收到您的联系方式。请通过您的专属链接跟进对接进展。",
            "The platform has your contact too. Follow the engagement on your private link.",
        ]
    )
    s.add(
        ResearcherEmail(
            introduction_id=intro.id,  # type: ignore[arg-type]
            to_address=to,
            subject=f"【PilotMatch】已引荐 / Introduced: {platform.name}"[:300],
            body=body,
        )
    )
