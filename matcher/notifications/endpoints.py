"""A platform's webhook endpoints: registered (URL checked, capped per platform), listed, deleted, and their
signing secrets rotated."""

from __future__ import annotations

import base64
import secrets

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from matcher.accounts.service import Principal
from matcher.audit.service import SYSTEM, record
from matcher.errors import Conflict, NotFound
from matcher.notifications.models import WebhookEndpoint
from matcher.notifications.url_guard import check_webhook_url
from matcher.platforms.models import Platform
from matcher.settings import Settings


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def create_endpoint(
    db: Engine,
    settings: Settings,
    platform_id: int,
    url: str,
    description: str | None,
    actor: Principal = SYSTEM,
) -> WebhookEndpoint:
    """Register a webhook endpoint and return it with its new secret.

    The URL is stored in its normal form (``url_guard.normalise_webhook_url``) after its host was resolved and
    every address checked (private addresses pass only with ``webhook_allow_private``); ``InvalidInput`` (field
    ``url``) if not. A platform may hold at most ``webhooks_per_platform`` endpoints: one more raises ``Conflict``.
    """
    url = check_webhook_url(url, allow_private=settings.webhook_allow_private)
    cap = settings.webhooks_per_platform
    with Session(db, expire_on_commit=False) as s:
        # The platform row is locked (PostgreSQL) and SQLite runs one writer at a time, and the endpoints are
        # counted after this one is inserted, so two registrations at once cannot both take the last place.
        platform = s.exec(select(Platform.id).where(Platform.id == platform_id).with_for_update()).first()
        if platform is None:
            raise NotFound(f"Platform {platform_id} does not exist.")
        ep = WebhookEndpoint(platform_id=platform_id, url=url, description=description, secret=new_secret())
        s.add(ep)
        s.flush()
        count = s.exec(
            select(func.count())
            .select_from(WebhookEndpoint)
            .where(WebhookEndpoint.platform_id == platform_id)
        ).one()
        if count > cap:
            s.rollback()
            raise Conflict(
                f"Platform {platform_id} already has {cap} webhook endpoints, the most allowed "
                "(PILOTMATCH_WEBHOOKS_PER_PLATFORM); delete one first."
            )
        record(s, platform_id, "webhook", "created", actor, {"url": [None, url]}, ep.id)
        s.commit()
        s.refresh(ep)
        return ep


def list_endpoints(db: Engine, platform_id: int) -> list[WebhookEndpoint]:
    with Session(db, expire_on_commit=False) as s:
        return list(s.exec(select(WebhookEndpoint).where(WebhookEndpoint.platform_id == platform_id)).all())


def get_endpoint(db: Engine, platform_id: int, endpoint_id: int) -> WebhookEndpoint:
    with Session(db, expire_on_commit=False) as s:
        ep = s.get(WebhookEndpoint, endpoint_id)
    if ep is None or ep.platform_id != platform_id:
        raise NotFound(f"Webhook {endpoint_id} does not exist for platform {platform_id}.")
    return ep


def delete_endpoint(db: Engine, platform_id: int, endpoint_id: int, actor: Principal = SYSTEM) -> None:
    get_endpoint(db, platform_id, endpoint_id)
    with Session(db, expire_on_commit=False) as s:
        ep = s.get(WebhookEndpoint, endpoint_id)
        assert ep is not None
        record(s, platform_id, "webhook", "deleted", actor, {"url": [ep.url, None]}, endpoint_id)
        s.delete(ep)
        s.commit()


def rotate_secret(
    db: Engine, platform_id: int, endpoint_id: int, actor: Principal = SYSTEM
) -> WebhookEndpoint:
    get_endpoint(db, platform_id, endpoint_id)
    with Session(db, expire_on_commit=False) as s:
        ep = s.get(WebhookEndpoint, endpoint_id)
        assert ep is not None
        ep.secret = new_secret()
        s.add(ep)
        # The secret itself never enters the trail; only that it changed.
        record(
            s,
            platform_id,
            "webhook",
            "secret_rotated",
            actor,
            {"secret": ["(hidden)", "(hidden)"]},
            endpoint_id,
        )
        s.commit()
        s.refresh(ep)
        return ep
