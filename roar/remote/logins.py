"""Which account the user is logged in as, per remote URL.

Kept in `$XDG_CONFIG_HOME/roar/logins.json`: a login belongs to the user,
not to a workspace. Logging out makes requests act in the anonymous scope.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from roar.identity.keys import config_dir


@dataclass(frozen=True)
class Login:
    url: str
    account: str
    fingerprint: str


def _path() -> Path:
    return config_dir() / "logins.json"


def _load() -> dict[str, dict[str, str]]:
    try:
        data = json.loads(_path().read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save(data: dict[str, dict[str, str]]) -> None:
    from roar.atomic import write_atomic

    _path().parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(_path(), (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def get_login(url: str) -> Login | None:
    entry = _load().get(url.rstrip("/"))
    if not isinstance(entry, dict) or "account" not in entry:
        return None
    return Login(url.rstrip("/"), entry["account"], entry.get("fingerprint", ""))


def all_logins() -> list[Login]:
    return [Login(u, e["account"], e.get("fingerprint", "")) for u, e in sorted(_load().items())]


def save_login(login: Login) -> None:
    data = _load()
    data[login.url] = {"account": login.account, "fingerprint": login.fingerprint}
    _save(data)


def forget_login(url: str) -> bool:
    data = _load()
    removed = data.pop(url.rstrip("/"), None) is not None
    _save(data)
    return removed
