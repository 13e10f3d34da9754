"""E-mail digests: new notifications also reach the platform's contact address, batched.

With ``PILOTMATCH_SMTP_URL`` set, each new notification of a platform whose contact is an e-mail address is
marked for e-mail. At most one bilingual (Chinese/English) message, plain text and HTML, goes to a platform per
``PILOTMATCH_EMAIL_BATCH_MINUTES``, carrying every notification pending for it. A failed send is retried on the
webhook schedule and then dead-lettered; it never holds up webhooks (the worker runs the two apart).
"""

from __future__ import annotations

import html
import logging
import random
import re
import smtplib
import ssl
from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from sqlalchemy import Engine, update
from sqlmodel import Session, select

from matcher.dbtypes import utcnow
from matcher.notifications.models import Notification
from matcher.observability import EMAILS
from matcher.platforms.models import Platform
from matcher.settings import Settings

log = logging.getLogger("pilotmatch.email")


def send_email(smtp_url: str, message: EmailMessage, timeout: float = 10.0) -> None:
    """Send one message; STARTTLS when the server offers it (``smtp://``), implicit TLS for ``smtps://``."""
    url = urlsplit(smtp_url)
    host = url.hostname or "localhost"
    context = ssl.create_default_context()
    if url.scheme == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(host, url.port or 465, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(host, url.port or 587, timeout=timeout)
    with client:
        client.ehlo()
        if url.scheme == "smtp" and client.has_extn("starttls"):
            client.starttls(context=context)
            client.ehlo()
        if url.username:
            client.login(unquote(url.username), unquote(url.password or ""))
        client.send_message(message)


#: One plain address: no display name, no list, no whitespace or line breaks (a contact of several addresses
#: would make the service mail third parties; a line break, headers of the sender's choosing).
_ADDRESS = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)


def email_address(contact: str | None) -> str | None:
    """The address digests go to: the platform's contact when it is exactly one e-mail address, else None (a
    phone number, a name, or several addresses get no e-mail)."""
    if not contact:
        return None
    contact = contact.strip()
    return contact if _ADDRESS.fullmatch(contact) else None


#: How a digest line names a notification that is not a new match.
_KINDS = {
    "response.reminder": ("待答复提醒", "Reminder, not answered yet"),
    "introduction.requested": ("研究方请求引荐", "A researcher asks to meet you"),
    "introduction.made": ("已引荐", "Introduced"),
    "assignment.made": ("对接会分配", "Assigned to you in a matchmaking programme"),
    "profile.confirm_requested": ("请确认平台信息仍然准确", "Please confirm your profile is still true"),
}


def compose_digest(settings: Settings, platform: Platform, notes: list[Notification]) -> EmailMessage:
    base = settings.public_url.rstrip("/")
    n = len(notes)
    msg = EmailMessage()
    name_en = platform.name_en or platform.name
    if all(note.type not in _KINDS for note in notes):
        msg["Subject"] = f"【PilotMatch】{n} 项新技术与贵平台匹配 / {n} new technologies match your platform"
        lines_zh = [f"{platform.name}：PilotMatch 为贵平台找到 {n} 项可能需要中试的技术。", ""]
        lines_en = [f"{name_en}: PilotMatch found {n} technologies that may need you.", ""]
    else:
        msg["Subject"] = f"【PilotMatch】{n} 条新消息 / {n} updates for your platform"
        lines_zh = [f"{platform.name}：PilotMatch 有 {n} 条新消息。", ""]
        lines_en = [f"{name_en}: {n} updates from PilotMatch.", ""]
    msg["From"] = settings.smtp_from
    msg["To"] = email_address(platform.contact) or ""
    items_html = []
    for note in notes:
        data = note.payload.get("data", {})
        tech = data.get("technology", {})
        title = tech.get("title") or (tech.get("summary") or "")[:60]
        link = f"{base}/v1/technologies/{note.technology_id}/matches"
        if note.technology_id is None:  # about the profile itself: its page, where it is confirmed or edited
            title, link = data.get("message") or platform.name, f"{base}/platforms/{platform.id}"
        score = f"{note.score:.2f}" if note.score is not None else None
        zh, en = _KINDS.get(note.type, ("", ""))
        lead_zh, lead_en = (f"【{zh}】", f"[{en}] ") if zh else ("", "")
        lines_zh.append(f"- {lead_zh}{title}{f'（匹配度 {score}）' if score else ''} {link}")
        lines_en.append(f"- {lead_en}{title}{f' (score {score})' if score else ''} {link}")
        items_html.append(
            f'<li>{html.escape(lead_zh)}<a href="{html.escape(link)}">{html.escape(title)}</a>'
            f"{f' — 匹配度 / score {score}' if score else ''}</li>"
        )
    inbox = f"{base}/v1/platforms/{platform.id}/notifications"
    text = "\n".join([*lines_zh, "", *lines_en, "", f"收件箱 / Inbox: {inbox}"])
    msg.set_content(text)
    msg.add_alternative(
        f"<p>{html.escape(lines_zh[0])}<br>{html.escape(lines_en[0])}</p><ul>{''.join(items_html)}</ul>"
        f'<p><a href="{html.escape(inbox)}">收件箱 / Inbox</a></p>',
        subtype="html",
    )
    return msg


def _claim_window(db: Engine, platform: Platform, now, window: timedelta) -> bool:  # type: ignore[no-untyped-def]
    """Compare-and-set ``last_email_at`` so that, of several workers, exactly one sends a platform's digest."""
    with Session(db, expire_on_commit=False) as s:
        stmt = update(Platform).where(Platform.id == platform.id)
        if platform.last_email_at is None:
            stmt = stmt.where(Platform.last_email_at == None)  # noqa: E711
        else:
            stmt = stmt.where(Platform.last_email_at == platform.last_email_at)
        result = s.exec(stmt.values(last_email_at=now))  # type: ignore[call-overload]
        s.commit()
        return result.rowcount == 1


def send_digests(db: Engine, settings: Settings) -> int:
    """Send the digests that are due; returns how many messages went out."""
    if settings.smtp_url is None:
        return 0
    now = utcnow()
    window = timedelta(minutes=settings.email_batch_minutes)
    delays = settings.retry_delays
    with Session(db, expire_on_commit=False) as s:
        due = s.exec(
            select(Notification).where(
                Notification.email_status == "pending",
                (Notification.email_next_attempt_at == None) | (Notification.email_next_attempt_at <= now),  # noqa: E711
            )
        ).all()
        by_platform: dict[int, list[Notification]] = {}
        for note in due:
            by_platform.setdefault(note.platform_id, []).append(note)
        platforms = {
            p.id: p for p in s.exec(select(Platform).where(Platform.id.in_(list(by_platform)))).all()
        }  # type: ignore[union-attr]
    sent = 0
    for pid, notes in by_platform.items():
        platform = platforms.get(pid)
        if platform is None or email_address(platform.contact) is None:
            continue
        if platform.last_email_at is not None and now - platform.last_email_at < window:
            continue  # one message per platform per batch window; these wait for the next one
        if not _claim_window(db, platform, now, window):
            continue  # another worker is sending this platform's digest
        error = None
        try:
            send_email(settings.smtp_url.get_secret_value(), compose_digest(settings, platform, notes))
        except Exception as exc:  # any failure is this digest's alone: the others still go out
            error = f"{type(exc).__name__}: {exc}"[:500]
        with Session(db, expire_on_commit=False) as s:
            for note in notes:
                row = s.get(Notification, note.id)
                if row is None:
                    continue
                row.email_attempts += 1
                if error is None:
                    row.email_status, row.email_error = "sent", None
                else:
                    row.email_error = error
                    if row.email_attempts > len(delays):
                        row.email_status = "dead"
                    else:
                        delay = delays[row.email_attempts - 1] * random.uniform(0.8, 1.2)
                        row.email_next_attempt_at = now + timedelta(seconds=delay)
                s.add(row)
            if error is not None:
                prow = s.get(Platform, pid)
                if prow is not None:  # give the window back so the retry is not held up by it
                    prow.last_email_at = platform.last_email_at
                    s.add(prow)
            s.commit()
        EMAILS.labels("sent" if error is None else "failed").inc()
        if error is None:
            sent += 1
            log.info("event=email_sent platform=%s notifications=%d", pid, len(notes))
        else:
            log.warning("event=email_failed platform=%s error=%s", pid, error)
    return sent
