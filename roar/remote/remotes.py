"""Remotes by name, git-style: `[remotes.<name>] url = ...` in `.roar/config.toml`.

With none configured, the implicit remote `glaas` is `glaas.url`. What a
remote held when last seen is kept under `refs/remotes/<name>/`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from roar.errors import UsageError
from roar.workspace import Workspace

DEFAULT_NAME = "origin"
IMPLICIT_NAME = "glaas"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


@dataclass(frozen=True)
class Remote:
    name: str
    url: str
    implicit: bool = False

    def tracking_ref(self, name: str) -> str:
        """Local name of the remote's ref `name` (e.g. sessions/main)."""
        return f"refs/remotes/{self.name}/{name}"


def _table(ws: Workspace) -> dict[str, Any]:
    remotes = ws.config._load().get("remotes", {})
    return remotes if isinstance(remotes, dict) else {}


def list_remotes(ws: Workspace) -> list[Remote]:
    return [
        Remote(name, str(v.get("url", "")))
        for name, v in sorted(_table(ws).items())
        if isinstance(v, dict)
    ]


def get_remote(ws: Workspace, name: str | None = None) -> Remote:
    """The named remote (or a registry URL given as the name); default `origin` if
    configured, else `glaas.url`."""
    if name is not None and re.match(r"^https?://", name):
        return Remote(IMPLICIT_NAME, name.rstrip("/"), implicit=True)
    configured = {r.name: r for r in list_remotes(ws)}
    if name is None:
        if DEFAULT_NAME in configured:
            return configured[DEFAULT_NAME]
        if len(configured) == 1:
            return next(iter(configured.values()))
        return Remote(IMPLICIT_NAME, str(ws.config.get("glaas.url")).rstrip("/"), implicit=True)
    if name in configured:
        return configured[name]
    if name == IMPLICIT_NAME:
        return Remote(IMPLICIT_NAME, str(ws.config.get("glaas.url")).rstrip("/"), implicit=True)
    raise UsageError(f"no remote named {name!r} (see `roar remote list`)")


def add_remote(ws: Workspace, name: str, url: str) -> Remote:
    if not _NAME.match(name) or name == IMPLICIT_NAME:
        raise UsageError(f"invalid remote name {name!r}")
    if not re.match(r"^https?://", url):
        raise UsageError(f"remote URL must start with http:// or https://, not {url!r}")
    if name in _table(ws):
        raise UsageError(f"remote {name} already exists")
    ws.edit_config(lambda doc: doc.setdefault("remotes", _new_table()).update({name: {"url": url}}))
    return Remote(name, url.rstrip("/"))


def remove_remote(ws: Workspace, name: str) -> None:
    if name not in _table(ws):
        raise UsageError(f"no remote named {name!r}")
    ws.edit_config(lambda doc: doc["remotes"].pop(name))
    for ref in ws.refs.list(f"refs/remotes/{name}/"):
        ws.refs.delete(ref, message=f"remote remove {name}")


def _new_table():  # type: ignore[no-untyped-def]
    import tomlkit

    return tomlkit.table(is_super_table=True)


def web_url(ws: Workspace, remote: Remote) -> str:
    """Where a remote's web pages are, for links to print.

    `glaas.web_url` while it is set, or while the remote is the public
    registry; otherwise the remote itself, since glaas-server serves its pages.
    """
    from roar.config import BY_KEY

    web = str(ws.config.get("glaas.web_url")).rstrip("/")
    public_api = str(BY_KEY["glaas.url"].default).rstrip("/")
    if web != str(BY_KEY["glaas.web_url"].default).rstrip("/") or remote.url == public_api:
        return web
    return remote.url.rstrip("/")
