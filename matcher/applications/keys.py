"""The platform key an applicant is shown once after approval, derived so that it is stored nowhere in clear.

At submission the key the platform will get is derived from the applicant's token and a server secret:
``pm_platform_`` + base64url(HMAC-SHA256(secret, ``platform-key:`` + token)). Only its SHA-256 is stored (on the
application, then on the key approval issues). The applicant's first read after approval derives it again from
the token, checks it against the hash and shows it. A reader of the database has the secret but not the token
(stored as a hash too), so it cannot derive the key; the token cannot ask for the key a second time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from sqlalchemy import Engine

from matcher.accounts.service import app_secret, hash_key

#: The name of the server secret keys are derived with (``app_secret``).
SECRET_NAME = "application_keys"
PREFIX = "pm_platform_"
#: Characters of a key kept in clear to tell keys apart, as ``create_platform_key`` keeps.
PREFIX_CHARS = 16


def derived_key(db: Engine, token: str) -> str:
    """The platform key an application's token stands for."""
    secret = app_secret(db, SECRET_NAME).encode("utf-8")
    mac = hmac.new(secret, b"platform-key:" + token.encode("utf-8"), hashlib.sha256).digest()
    return PREFIX + base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")


def key_digest(db: Engine, token: str) -> tuple[str, str]:
    """(SHA-256 of the derived key, its prefix): what an application stores."""
    key = derived_key(db, token)
    return hash_key(key), key[:PREFIX_CHARS]
