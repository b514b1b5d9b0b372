"""What a register target sends: the objects it needs and the ref it moves.

A session sends its whole chain (each session object points at its parent)
and moves its ref; a job or an artifact sends its lineage's jobs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from roar.errors import NotFound, UsageError
from roar.objects.base import RoarObject, is_id
from roar.objects.job import Job
from roar.workspace import Workspace


@dataclass(frozen=True)
class Target:
    kind: str  # "session" | "job" | "artifact"
    hash: str  # session object id, job id or artifact hash
    ref: str | None = None  # local ref of a session, e.g. refs/sessions/main


@dataclass
class Plan:
    target: Target
    objects: dict[str, RoarObject] = field(default_factory=dict)  # id -> object
    jobs: list[str] = field(default_factory=list)

    @property
    def remote_ref(self) -> str | None:
        """The ref's name on the remote: refs/sessions/main -> sessions/main."""
        return self.target.ref[len("refs/") :] if self.target.ref else None


def resolve_target(ws: Workspace, text: str | None) -> Target:
    """A register/fetch target from what the user typed (default: the active session)."""
    from roar.index.source import local
    from roar.lineage.views import ref_at

    if text is None:
        ref = ws.refs.head_target()
        head = ws.refs.read(ref)
        if head is None:
            raise NotFound(f"session {ref} has no steps yet; nothing to register")
        return Target("session", head, ref)
    source, resolver = local(ws)
    t = resolver.resolve(text)
    if t.kind == "session":
        ref = t.ref or ref_at(source.session_refs(), t.id)
        local_ref = ref if ref and ref.startswith("refs/sessions/") else None
        return Target("session", t.id, local_ref)
    if t.kind in ("step", "job"):
        return Target("job", t.id)
    if t.kind == "artifact":
        return Target("artifact", t.id)
    raise UsageError(f"{text} is a {t.object_kind} object: register takes an artifact, "
                     "a job, a step or a session")  # fmt: skip


def plan(ws: Workspace, target: Target) -> Plan:
    """Every object the target needs, read (and so verified) from the local store.

    A session sends its whole chain; a job or an artifact the jobs of its
    lineage, as the lineage core chooses them (docs/lineage.md §6): what
    `roar lineage` shows is what is registered.
    """
    from roar.index.source import IndexSource
    from roar.lineage.closure import upstream
    from roar.sessions import history

    p = Plan(target)
    if target.kind == "session":
        roots = [s.session_object for s in history(ws, head=target.hash)]
    else:
        start = {"jobs": [target.hash]} if target.kind == "job" else {"hashes": [target.hash]}
        lin = upstream(IndexSource(ws), **start)
        if not lin.jobs:
            raise NotFound(f"no local job wrote {target.hash[:12]}; nothing to register")
        roots = list(lin.jobs)
    todo = list(roots)
    while todo:
        oid = todo.pop()
        if oid in p.objects:
            continue
        obj = ws.objects.read(oid)
        p.objects[oid] = obj
        if isinstance(obj, Job):
            p.jobs.append(oid)
        todo.extend(obj.references())
    for target_id in [*p.objects, *({target.hash} if target.kind == "artifact" else set())]:
        label = ws.refs.read(f"refs/labels/{target_id}") if is_id(target_id) else None
        while label is not None and label not in p.objects:
            obj = ws.objects.read(label)
            p.objects[label] = obj
            label = obj.references()[0] if obj.references() else None
    return p
