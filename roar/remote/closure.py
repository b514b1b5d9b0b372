"""What a register target sends: the objects it needs and the ref it moves.

A session sends its whole chain (each session object points at its parent)
and moves its ref; a job or an artifact sends the jobs upstream of it, found
by matching inputs to the outputs of jobs in the local sessions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from roar.errors import NotFound
from roar.objects.base import RoarObject, is_id
from roar.objects.job import Job
from roar.objects.session import Session
from roar.objects.tree import Tree
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
    if text is None or text.startswith("refs/sessions/"):
        ref = text or ws.refs.head_target()
        head = ws.refs.read(ref)
        if head is None:
            raise NotFound(f"session {ref} has no steps yet; nothing to register")
        return Target("session", head, ref)
    if text.startswith("@"):
        from roar import sessions

        for step in sessions.history(ws):
            if step.label == text and not step.superseded:
                return Target("job", step.job)
        raise NotFound(f"no step {text} in the active session")
    if os.path.exists(text):
        from roar.hashing import hash_path

        return Target("artifact", hash_path(text))
    lowered = text.lower()
    if len(lowered) >= 4 and all(c in "0123456789abcdef" for c in lowered):
        try:
            oid = ws.objects.resolve_prefix(lowered)
        except NotFound:
            if is_id(lowered):
                return Target("artifact", lowered)
            raise
        kind = ws.objects.kind_of(oid)
        if kind == "session":
            return Target("session", oid, _ref_holding(ws, oid))
        if kind == "job":
            return Target("job", oid)
        return Target("artifact", oid)  # a tree: a composite artifact
    raise NotFound(f"{text!r} is not a path, hash, @N step or session")


def _ref_holding(ws: Workspace, head: str) -> str | None:
    for name, value in ws.refs.list("refs/sessions/").items():
        if value == head:
            return name
    return None


def plan(ws: Workspace, target: Target) -> Plan:
    """Every object the target needs, read (and so verified) from the local store."""
    p = Plan(target)
    if target.kind == "session":
        roots = _chain(ws, target.hash)
    elif target.kind == "job":
        roots = _upstream_jobs(ws, [target.hash])
    else:
        producers = _producers(ws).get(target.hash, [])
        if not producers:
            raise NotFound(f"no local job wrote {target.hash[:12]}; nothing to register")
        roots = _upstream_jobs(ws, producers)
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


def _chain(ws: Workspace, head: str) -> list[str]:
    ids, cur = [], head
    while cur is not None:
        obj = ws.objects.read(cur)
        if not isinstance(obj, Session):
            raise NotFound(f"{cur} is not a session object")
        ids.append(cur)
        cur = obj.parent
    return ids


def _producers(ws: Workspace) -> dict[str, list[str]]:
    """artifact hash -> ids of jobs in local sessions that wrote it."""
    out: dict[str, list[str]] = {}
    seen: set[str] = set()
    for head in ws.refs.list("refs/sessions/").values():
        for sid in _chain(ws, head):
            session = ws.objects.read(sid)
            assert isinstance(session, Session)
            if session.job in seen:
                continue
            seen.add(session.job)
            job = ws.objects.read(session.job)
            assert isinstance(job, Job)
            for art in job.outputs:
                out.setdefault(art.hash, []).append(session.job)
                if art.kind == "tree":  # a step may read one file of a composite
                    tree = ws.objects.read(art.hash)
                    assert isinstance(tree, Tree)
                    for entry in tree.entries:
                        out.setdefault(entry.hash, []).append(session.job)
    return out


def _upstream_jobs(ws: Workspace, start: list[str]) -> list[str]:
    producers = _producers(ws)
    found: list[str] = []
    todo = list(start)
    while todo:
        jid = todo.pop()
        if jid in found:
            continue
        found.append(jid)
        job = ws.objects.read(jid)
        assert isinstance(job, Job)
        for art in job.inputs:
            todo.extend(j for j in producers.get(art.hash, []) if j != jid)
    return found
