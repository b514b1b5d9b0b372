"""Browser logins: a signed request buys a one-time link; the link buys a cookie.

Browsers cannot sign requests with the user's ssh key, so `roar login --web`
asks the server (signed, as the account) for a link that works once within
LINK_TTL_S; opening it sets an HttpOnly cookie valid for COOKIE_TTL_S. The
database keeps only SHA-256 digests of both secrets. docs/protocol.md §8.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from roar.server.storage import Storage

COOKIE = "glaas_login"
LINK_TTL_S = 600
COOKIE_TTL_S = 12 * 3600


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_link(storage: Storage, account: str) -> tuple[str, int]:
    """(token, expiry in ns) of a one-time login link for `account`."""
    token = secrets.token_urlsafe(32)
    expires = time.time_ns() + LINK_TTL_S * 10**9
    storage.add_web_login(_digest(token), "link", account, expires)
    return token, expires


def redeem(storage: Storage, token: str) -> str | None:
    """A cookie value for the link's account, or None if the link is used or expired."""
    account = storage.web_login(_digest(token), "link", consume=True)
    if account is None:
        return None
    cookie = secrets.token_urlsafe(32)
    storage.add_web_login(_digest(cookie), "cookie", account, time.time_ns() + COOKIE_TTL_S * 10**9)
    return cookie


def account_of(storage: Storage, cookie: str) -> str | None:
    return storage.web_login(_digest(cookie), "cookie")


def forget(storage: Storage, cookie: str) -> None:
    storage.drop_web_login(_digest(cookie))
