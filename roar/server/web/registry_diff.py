"""`roar diff`'s logic (roar/diff.py) run over the registry instead of a workspace.

The operands resolve by the one resolver (hashes and prefixes of 8+ hex
digits) and their lineages are the lineage core's (`roar.diff.operand_lineage`)
over the registry's source, limited to what the caller may see: the page
gives the answer `roar diff A B --json` gives where the same jobs are known.
"""

from __future__ import annotations

from typing import Any

from roar.diff import diff_lineages, operand_lineage
from roar.errors import RoarError
from roar.lineage.producers import Facts
from roar.lineage.resolve import Resolver
from roar.objects.env import Env
from roar.server.scope import Caller
from roar.server.storage import Storage


class OperandNotFound(Exception):
    """A diff operand is not registered, not visible to the caller, or names several."""


def registry_diff(storage: Storage, caller: Caller, a: str, b: str) -> dict[str, Any]:
    """The same result as `roar diff A B --json`, from the registry."""
    source = storage.source(caller)
    facts = Facts(source)
    resolver = Resolver(source, "", lambda _name: None)
    envs: dict[str | None, dict[str, Any] | None] = {}

    def env_of(env_id: str | None) -> dict[str, Any] | None:
        if env_id not in envs:
            obj = source.objects([env_id]).get(env_id) if env_id else None
            envs[env_id] = obj.to_value() if isinstance(obj, Env) else None
        return envs[env_id]

    sides = []
    for text in (a, b):
        try:
            target = resolver.resolve_hash(text)
            kind, lin = operand_lineage(facts, target, text)
        except RoarError as e:
            raise OperandNotFound(str(e)) from None
        sides.append(({"target": target.id, "kind": kind}, lin))
    (side_a, lin_a), (side_b, lin_b) = sides
    return {"a": side_a, "b": side_b, **diff_lineages(lin_a, lin_b, env_of)}
