"""Scopes: which namespace a push writes into, and what a caller may read.

A client acts in one scope per request (the signed Roar-Scope header):
`anonymous`, `public`, `private` or `<owner>/<project>`. Reads see everything
public plus the caller's private namespace and their projects'.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from roar.server.errors import ScopeDenied

ANON = "anon"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


@dataclass(frozen=True)
class Caller:
    account: str | None  # None: anonymous (unsigned, or a key with no account)
    fingerprint: str | None  # None: unsigned request
    memberships: tuple[str, ...] = ()  # "owner/project"
    scope: str = "anonymous"  # the scope the request's signature covers

    def readable(self) -> tuple[str, ...]:
        """Non-public namespaces this caller may read."""
        if self.account is None:
            return ()
        return (f"private:{self.account}", *(f"project:{p}" for p in self.memberships))


NOBODY = Caller(None, None)


@dataclass(frozen=True)
class Namespace:
    ns: str
    public: bool
    ref_ns: str  # where this push's refs live
    owner: str | None


def valid_name(name: str) -> bool:
    return bool(_NAME.match(name))


def namespace_for_write(caller: Caller) -> Namespace:
    """The namespace a push in the caller's scope lands in; raises ScopeDenied."""
    scope = caller.scope
    if caller.fingerprint is None:
        raise ScopeDenied("pushes must be signed (see docs/protocol.md §2)")
    if scope == "anonymous":
        return Namespace(ANON, True, f"{ANON}:{caller.fingerprint}", None)
    if caller.account is None:
        raise ScopeDenied(f"scope {scope!r} needs an account; sign up with `roar login --name`")
    if scope in ("public", "private"):
        ns = f"{scope}:{caller.account}"
        return Namespace(ns, scope == "public", ns, caller.account)
    owner, slash, project = scope.partition("/")
    if not slash or not valid_name(owner) or not valid_name(project):
        raise ScopeDenied(f"unknown scope {scope!r}")
    if scope not in caller.memberships:
        raise ScopeDenied(f"{caller.account} is not a member of project {scope}")
    ns = f"project:{scope}"
    return Namespace(ns, False, ns, owner)


def shown_ref_namespace(ref_ns: str) -> str:
    """A ref namespace as the registry shows it to readers.

    Anonymous refs live under `anon:<key fingerprint>` so that anonymous
    pushers keep apart, but that name links "anonymous" work to a key: it
    is only ever shown as `anon`.
    """
    return ANON if ref_ns.startswith(ANON + ":") else ref_ns
