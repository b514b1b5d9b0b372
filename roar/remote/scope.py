"""The scope a workspace registers and reads in (`scope.current` in config).

Empty means automatic: `private` when logged in to the remote, else
`anonymous`. Named scopes other than anonymous need a login.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from roar.errors import UsageError
from roar.remote.logins import get_login
from roar.workspace import Workspace

FIXED = ("anonymous", "public", "private")
_PROJECT = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}/[a-z0-9][a-z0-9_.-]{0,62}$")


@dataclass(frozen=True)
class EffectiveScope:
    scope: str
    configured: str  # "" when automatic
    account: str | None


def check_scope(text: str) -> str:
    if text in FIXED or _PROJECT.match(text):
        return text
    raise UsageError(f"scope is anonymous, public, private or owner/project, not {text!r}")


def effective_scope(ws: Workspace, url: str) -> EffectiveScope:
    configured = str(ws.config.get("scope.current") or "")
    login = get_login(url)
    account = login.account if login else None
    if not configured:
        return EffectiveScope("private" if account else "anonymous", "", account)
    scope = check_scope(configured)
    if scope != "anonymous" and account is None:
        raise UsageError(f"scope {scope} needs a login to {url}: run `roar login` first")
    return EffectiveScope(scope, configured, account)
