"""Sending the e-mails queued for researchers (``ResearcherEmail``), with the digests' retry schedule.

Each message is claimed by moving its ``next_attempt_at`` forward in one conditional UPDATE, so of several
workers exactly one sends it, and a worker that dies mid-send leaves it to be sent again after the claim lapses.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import Engine, update
from sqlmodel import Session, select

from matcher.dbtypes import utcnow
from matcher.engagements.models import ResearcherEmail
from matcher.notifications.email import send_email
from matcher.observability import EMAILS
from matcher.settings import Settings

log = logging.getLogger("pilotmatch.email")

#: How long a claimed message is left to its sender before another worker may try it.
CLAIM_SECONDS = 120


def send_researcher_emails(db: Engine, settings: Settings, now: datetime | None = None) -> int:
    """Send the due researcher e-mails; returns how many went out."""
    if settings.smtp_url is None:
        return 0
    now = now or utcnow()
    with Session(db, expire_on_commit=False) as s:
        due = s.exec(
            select(ResearcherEmail)
            .where(ResearcherEmail.status == "pending", ResearcherEmail.next_attempt_at <= now)  # type: ignore[arg-type]
            .order_by(ResearcherEmail.id)  # type: ignore[arg-type]
            .limit(50)
        ).all()
    sent = 0
    for mail in due:
        if not _claim(db, mail, now):
            continue
        error = None
        try:
            send_email(settings.smtp_url.get_secret_value(), _message(settings, mail))
        except Exception as exc:  # one message's failure is its own; the rest still go
            error = f"{type(exc).__name__}: {exc}"[:500]
        _record(db, settings, mail.id, error, now)  # type: ignore[arg-type]
        EMAILS.labels("sent" if error is None else "failed").inc()
        sent += error is None
    return sent


def _message(settings: Settings, mail: ResearcherEmail) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = mail.subject
    msg["From"] = settings.smtp_from
    msg["To"] = mail.to_address
    msg.set_content(mail.body)
    return msg


def _claim(db: Engine, mail: ResearcherEmail, now: datetime) -> bool:
    with Session(db) as s:
        result = s.exec(
            update(ResearcherEmail)  # type: ignore[call-overload]
            .where(
                ResearcherEmail.id == mail.id,  # type: ignore[arg-type]
                ResearcherEmail.status == "pending",  # type: ignore[arg-type]
                ResearcherEmail.next_attempt_at == mail.next_attempt_at,  # type: ignore[arg-type]
            )
            .values(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
        )
        s.commit()
        return result.rowcount == 1


def _record(db: Engine, settings: Settings, mail_id: int, error: str | None, now: datetime) -> None:
    delays = settings.retry_delays
    with Session(db) as s:
        row = s.get(ResearcherEmail, mail_id)
        if row is None:  # its introduction was deleted meanwhile
            return
        row.attempts += 1
        row.error = error
        if error is None:
            row.status = "sent"
            log.info("event=researcher_email_sent introduction=%s", row.introduction_id)
        elif row.attempts > len(delays):
            row.status = "dead"
            log.warning("event=researcher_email_dead introduction=%s error=%s", row.introduction_id, error)
        else:
            row.next_attempt_at = now + timedelta(seconds=delays[row.attempts - 1] * random.uniform(0.8, 1.2))
        s.add(row)
        s.commit()
