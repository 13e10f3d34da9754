"""The web session: a signed cookie with the CSRF token and, once an operator signs in, their key's hash.

Nothing secret is in the cookie (a hash is not the key) and nothing is kept server-side, so any API process can
serve any request. The signing secret comes from the database (``app_secret``), so every process agrees on it
without configuration. Each request re-checks the key hash against the database: revoking a key signs out every
session that used it.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field

from itsdangerous import BadSignature, URLSafeSerializer

COOKIE = "pm_session"
LANG_COOKIE = "pm_lang"
#: A sign-in lasts this long; then the operator signs in again.
SIGN_IN_SECONDS = 12 * 3600


@dataclass(slots=True)
class WebSession:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    key_digest: str | None = None
    signed_in_at: float | None = None
    #: Set when the cookie must be (re)written on the response.
    changed: bool = True

    def sign_in(self, key_digest: str) -> None:
        # A new CSRF token at sign-in: a token seen before signing in is worth nothing after.
        self.csrf = secrets.token_urlsafe(32)
        self.key_digest, self.signed_in_at, self.changed = key_digest, time.time(), True

    def sign_out(self) -> None:
        self.csrf = secrets.token_urlsafe(32)
        self.key_digest, self.signed_in_at, self.changed = None, None, True

    @property
    def signed_in_digest(self) -> str | None:
        if self.key_digest and self.signed_in_at and time.time() - self.signed_in_at < SIGN_IN_SECONDS:
            return self.key_digest
        return None

    def csrf_matches(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(token.encode(), self.csrf.encode())  # type: ignore[union-attr]


class SessionCodec:
    """Turns a session into a signed cookie value and back; a tampered or foreign cookie yields a new session."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeSerializer(secret, salt="pilotmatch.web.session")

    def load(self, cookie: str | None) -> WebSession:
        if not cookie:
            return WebSession()
        try:
            data = self._serializer.loads(cookie)
            return WebSession(data["c"], data.get("k"), data.get("t"), changed=False)
        except (BadSignature, KeyError, TypeError, ValueError):
            return WebSession()

    def dump(self, session: WebSession) -> str:
        return self._serializer.dumps({"c": session.csrf, "k": session.key_digest, "t": session.signed_in_at})
