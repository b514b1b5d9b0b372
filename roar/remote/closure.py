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
    remote: str | None = None  # its name on the registry (roar.sessions.remote_name)


@dataclass
class Plan:
    target: Target
    objects: dict[str, RoarObject] = field(default_factory=dict)  # id -> object
    jobs: list[str] = field(default_factory=list)

    @property
    def remote_ref(self) -> str | None:
        """The session's ref on the remote (`sessions/<name>`), when the target is one."""
        return self.target.remote


def resolve_target(ws: Workspace, text: str | None, as_name: str | None = None) -> Target:
    """A register/fetch target from what the user typed (default: the active session);
    `as_name` names the session on the registry instead of roar.sessions.remote_name."""
    from roar.index.source import local
    from roar.lineage.views import ref_at
    from roar.refs.refstore import check_ref_name
    from roar.sessions import remote_name

    def session(head: str, ref: str | None) -> Target:
        if ref is None:
            if as_name is not None:
                raise UsageError("--as names a session of this workspace; this is not one")
            return Target("session", head)
        if as_name is not None:
            check_ref_name(f"refs/sessions/{as_name}")
            return Target("session", head, ref, f"sessions/{as_name}")
        return Target("session", head, ref, remote_name(ws, ref))

    if text is None:
        ref = ws.refs.head_target()
        head = ws.refs.read(ref)
        if head is None:
            raise NotFound(f"session {ref} has no steps yet; nothing to register")
        return session(head, ref)
    source, resolver = local(ws)
    t = resolver.resolve(text)
    if t.kind == "session":
        ref = t.ref or ref_at(source.session_refs(), t.id)
        local_ref = ref if ref and ref.startswith("refs/sessions/") else None
        return session(t.id, local_ref)
    if as_name is not None:
        raise UsageError(f"--as names a session; {text} is a {t.kind}")
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
