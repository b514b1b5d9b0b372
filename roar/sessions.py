"""Sessions as porcelain over refs and session objects: the active one, its
history, appending, `pop` and `reset`.

A session is `refs/sessions/<name>` pointing at its newest session object.
What a chain means (live, superseded) is the lineage core's
(`roar.lineage.chain`); appending a step, with the re-run rule, is the
tracer's (`roar-tracer append`), so there is one home for each.
"""

from __future__ import annotations

import time

from roar.errors import NotFound, RoarError
from roar.lineage.chain import walk
from roar.lineage.source import Step
from roar.objects.session import Session
from roar.workspace import Workspace


def active_ref(ws: Workspace) -> str:
    return ws.refs.head_target()


def read_session(ws: Workspace, oid: str) -> Session | None:
    """The session object `oid`, or None when it names another kind or nothing."""
    if not ws.objects.contains(oid):
        return None
    obj = ws.objects.read(oid)
    return obj if isinstance(obj, Session) else None


def history(ws: Workspace, ref: str | None = None, head: str | None = None) -> list[Step]:
    """Every step of a session, oldest first, superseded ones marked."""
    start = head if head is not None else ws.refs.read(ref or active_ref(ws))
    return walk(start, lambda oid: read_session(ws, oid)) if start else []


def append(
    ws: Workspace,
    job: str,
    step_kind: str,
    *,
    step: int | None = None,
    supersedes: str | None = None,
    ref: str | None = None,
) -> Step:
    """Add a job to the session as the tracer does (docs/lineage.md §3): the re-run of
    `step` when given, else the re-run of the step with the same command, else a new
    step. Concurrent appends each land once."""
    import subprocess

    from roar.capture.tracer import find_tracer

    argv = [str(find_tracer(str(ws.config.get("tracer.path")))), "append", "--store", str(ws.dir)]
    argv += ["--session", ref or active_ref(ws), "--type", step_kind, "--job", job]
    if step is not None:
        argv += ["--step", str(step)] + (["--supersedes", supersedes] if supersedes else [])
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RoarError(proc.stderr.strip() or f"roar-tracer append exited {proc.returncode}")
    oid = proc.stdout.strip()
    obj = read_session(ws, oid)
    if obj is None:
        raise NotFound(f"the tracer appended {oid}, which is not a session object")
    return Step(oid, obj.job, obj.step, obj.step_kind, obj.supersedes, obj.time_ns)


def pop(ws: Workspace, ref: str | None = None) -> Step:
    """Move the session back to before its last step; returns the removed step."""
    ref = ref or active_ref(ws)
    head = ws.refs.read(ref)
    if head is None:
        raise NotFound("the session is empty: nothing to pop")
    obj = ws.objects.read_kind(head, Session)
    if obj.parent is None:
        ws.refs.delete(ref, head, "pop")
    else:
        ws.refs.update(ref, obj.parent, head, "pop")
    return Step(head, obj.job, obj.step, obj.step_kind, obj.supersedes, obj.time_ns)


def reset(ws: Workspace, name: str | None = None) -> str:
    """Start a fresh session (named `name`, else by the time); the old one stays under
    its ref. Returns the new ref; UsageError for a name that is taken or not a ref name."""
    from roar.errors import CorruptObject, UsageError
    from roar.refs.refstore import check_ref_name

    try:
        active: str | None = active_ref(ws)
    except CorruptObject:
        active = None  # a damaged HEAD: the new session repairs it
    if name is not None:
        ref = f"refs/sessions/{name}"
        check_ref_name(ref)
        if ws.refs.read(ref) is not None or ref == active:
            raise UsageError(f"a session named {name} already exists")
        ws.refs.set_head(ref)
        return ref
    name = time.strftime("s-%Y%m%d-%H%M%S", time.gmtime())
    ref = f"refs/sessions/{name}"
    n = 1
    while ws.refs.read(ref) is not None or ref == active:
        n += 1
        ref = f"refs/sessions/{name}-{n}"
    ws.refs.set_head(ref)
    return ref


def number(ws: Workspace, ref: str) -> int:
    """roar-cli's integer `session_id`: the 1-based creation order of the session's ref,
    by its reflog's first entry (a session with no step yet is the newest)."""
    refs = sorted(ws.refs.list("refs/sessions/"), key=lambda name: (_born(ws, name), name))
    return refs.index(ref) + 1 if ref in refs else len(refs) + 1


def by_number(ws: Workspace, n: int) -> str | None:
    """The session ref whose `number` is `n`, if any."""
    refs = sorted(ws.refs.list("refs/sessions/"), key=lambda name: (_born(ws, name), name))
    return refs[n - 1] if 0 < n <= len(refs) else None


def _born(ws: Workspace, ref: str) -> int:
    first = next(iter(ws.refs.reflog(ref)), None)
    return first.time_ns if first else 0


def remote_name(ws: Workspace, ref: str) -> str:
    """The name of local session `ref` on a registry: `sessions/<name>`.

    Refs on a registry live per namespace, and one person's workspaces share
    theirs (every anonymous push with one key, every private push of one
    account). So a session is registered under the name given with `roar
    register --as NAME` (kept in `.roar/config.toml`, `[sessions.<local>]
    remote`), else under its local name and the workspace id's first 8 hex
    digits (`main-1a2b3c4d`): the `main` of two projects never collide.
    """
    local = ref.removeprefix("refs/sessions/")
    table = ws.config._load().get("sessions")
    entry = table.get(local) if isinstance(table, dict) else None
    named = entry.get("remote") if isinstance(entry, dict) else None
    if isinstance(named, str):
        return f"sessions/{named}"
    return f"sessions/{local}-{ws.id[:8]}"


def set_remote_name(ws: Workspace, ref: str, name: str) -> None:
    """Register local session `ref` as `sessions/<name>` from now on; UsageError for a
    name that is not a ref name."""
    from roar.refs.refstore import check_ref_name

    check_ref_name(f"refs/sessions/{name}")
    local = ref.removeprefix("refs/sessions/")

    def change(doc) -> None:  # type: ignore[no-untyped-def]
        import tomlkit

        table = doc.setdefault("sessions", tomlkit.table(is_super_table=True))
        table[local] = {"remote": name}

    ws.edit_config(change)
