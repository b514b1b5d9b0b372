"""Browser logins: a signed request buys a one-time link; the link buys a cookie.

Browsers cannot sign requests with the user's ssh key, so `roar login --web`
asks the server (signed, as the account) for a link that works once within
LINK_TTL_S. Opening it shows whose account it signs in to and asks for a
POST from that page (a GET that logged in would let anyone log a victim's
browser into the attacker's account); the POST must carry the nonce the
page set in a SameSite=Strict cookie, so another site cannot forge it. It
then sets an HttpOnly cookie valid for COOKIE_TTL_S. The database keeps only
SHA-256 digests of the secrets. docs/protocol.md §8.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from roar.server.storage import Storage

COOKIE = "glaas_login"
CONFIRM_COOKIE = "glaas_confirm"
LINK_TTL_S = 600
COOKIE_TTL_S = 12 * 3600


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_link(storage: Storage, account: str) -> tuple[str, int]:
    """(token, expiry in ns) of a one-time login link for `account`."""
    token = secrets.token_urlsafe(32)
    expires = time.time_ns() + LINK_TTL_S * 10**9
    storage.web.add_login(_digest(token), "link", account, expires)
    return token, expires


def link_account(storage: Storage, token: str) -> str | None:
    """The account an unused, unexpired link would sign in to (the link stays unused)."""
    return storage.web.login(_digest(token), "link")


def new_confirm() -> str:
    """The nonce the login page puts in its form and in a SameSite=Strict cookie."""
    return secrets.token_urlsafe(32)


def confirmed(cookie: str | None, form: str | None) -> bool:
    return bool(cookie) and bool(form) and hmac.compare_digest(str(cookie), str(form))


def redeem(storage: Storage, token: str) -> str | None:
    """A cookie value for the link's account, or None if the link is used or expired."""
    account = storage.web.login(_digest(token), "link", consume=True)
    if account is None:
        return None
    cookie = secrets.token_urlsafe(32)
    expires = time.time_ns() + COOKIE_TTL_S * 10**9
    storage.web.add_login(_digest(cookie), "cookie", account, expires)
    return cookie


def account_of(storage: Storage, cookie: str) -> str | None:
    """The live account a login cookie reads as (a deleted account's cookie reads as nobody)."""
    return storage.web.login(_digest(cookie), "cookie")


def forget(storage: Storage, cookie: str) -> None:
    storage.web.drop_login(_digest(cookie))
