"""The web session: a signed cookie with the CSRF token and, once an operator signs in, their sign-in's token.

The sign-in itself is kept in the database (``matcher.accounts.service.open_sign_in``): signing out deletes it, so
a saved copy of the cookie opens nothing afterwards, and any API process can serve any request. Each request also
re-checks the key the sign-in was made with, so revoking the key (or deleting its platform) signs out every
session that used it. The signing secret comes from the database (``app_secret``), so every process agrees on it
without configuration.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field

from itsdangerous import BadSignature, URLSafeSerializer

COOKIE = "pm_session"
LANG_COOKIE = "pm_lang"
#: A sign-in lasts this long; then the operator signs in again.
SIGN_IN_SECONDS = 12 * 3600


@dataclass(slots=True)
class WebSession:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    #: The token of the server-side sign-in (None: not signed in).
    sign_in_token: str | None = None
    #: Set when the cookie must be (re)written on the response.
    changed: bool = True

    def sign_in(self, token: str) -> None:
        # A new CSRF token at sign-in: a token seen before signing in is worth nothing after.
        self.csrf = secrets.token_urlsafe(32)
        self.sign_in_token, self.changed = token, True

    def sign_out(self) -> None:
        self.csrf = secrets.token_urlsafe(32)
        self.sign_in_token, self.changed = None, True

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
            return WebSession(data["c"], data.get("s"), changed=False)
        except (BadSignature, KeyError, TypeError, ValueError):
            return WebSession()

    def dump(self, session: WebSession) -> str:
        return self._serializer.dumps({"c": session.csrf, "s": session.sign_in_token})
