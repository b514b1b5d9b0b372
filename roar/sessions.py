"""Sessions as porcelain over refs and session objects.

A session is `refs/sessions/<name>` pointing at its newest session object;
appending a job is a compare-and-swap of that ref, so concurrent runs in
one workspace each land as their own step and none is lost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from roar.errors import NotFound, RefConflict, UsageError
from roar.objects.session import Session
from roar.workspace import Workspace


@dataclass(frozen=True)
class Step:
    """One entry of a session's history, oldest first when listed."""

    session_object: str
    job: str
    step: int
    step_kind: str
    supersedes: str | None
    time_ns: int
    superseded: bool = False

    @property
    def label(self) -> str:
        return f"@B{self.step}" if self.step_kind == "build" else f"@{self.step}"


def active_ref(ws: Workspace) -> str:
    return ws.refs.head_target()


def history(ws: Workspace, ref: str | None = None, head: str | None = None) -> list[Step]:
    """Every step of a session, oldest first, superseded ones marked."""
    cur = head if head is not None else ws.refs.read(ref or active_ref(ws))
    chain: list[Step] = []
    while cur is not None:
        obj = ws.objects.read(cur)
        if not isinstance(obj, Session):
            raise NotFound(f"{cur} is not a session object")
        chain.append(Step(cur, obj.job, obj.step, obj.step_kind, obj.supersedes, obj.time_ns))
        cur = obj.parent
    chain.reverse()
    return mark_superseded(chain)


def mark_superseded(chain: list[Step]) -> list[Step]:
    """Mark each step replaced by a later re-run of the same step."""
    replaced = {s.supersedes for s in chain if s.supersedes}
    latest: dict[tuple[str, int], str] = {}
    for s in chain:
        latest[(s.step_kind, s.step)] = s.job
    return [
        Step(
            **{
                **s.__dict__,
                "superseded": s.job in replaced or latest[(s.step_kind, s.step)] != s.job,
            }
        )
        for s in chain
    ]


def current_steps(steps: list[Step]) -> list[Step]:
    """The live pipeline: the latest job of each step, builds first."""
    return [s for s in steps if not s.superseded]


def next_step_number(ws: Workspace, head: str | None, step_kind: str) -> int:
    cur = head
    while cur is not None:
        obj = ws.objects.read(cur)
        assert isinstance(obj, Session)
        if obj.step_kind == step_kind and obj.supersedes is None:
            return obj.step + 1
        cur = obj.parent
    return 1


def append(
    ws: Workspace,
    job: str,
    step_kind: str,
    *,
    step: int | None = None,
    supersedes: str | None = None,
    ref: str | None = None,
) -> Step:
    """Add a job as the next step (or as a re-run of `step`); retries lost races."""
    ref = ref or active_ref(ws)
    while True:
        head = ws.refs.read(ref)
        number = step if step is not None else next_step_number(ws, head, step_kind)
        obj = Session(head, job, number, step_kind, time.time_ns(), supersedes)
        oid = ws.objects.write(obj)
        try:
            ws.refs.update(ref, oid, head, f"{step_kind} {job}")
        except RefConflict:
            continue
        return Step(oid, job, number, step_kind, supersedes, obj.time_ns)


def find_step(steps: list[Step], spec: str) -> Step:
    """The live step named `@N` or `@BN`."""
    text = spec[1:] if spec.startswith("@") else spec
    kind = "build" if text[:1] in ("B", "b") else "run"
    number = text[1:] if kind == "build" else text
    if not number.isdigit():
        raise UsageError(f"not a step: {spec!r} (use @N for run steps, @BN for build steps)")
    for s in reversed(steps):
        if s.step_kind == kind and s.step == int(number) and not s.superseded:
            return s
    raise NotFound(f"no step {spec} in this session (see `roar log`)")


def pop(ws: Workspace, ref: str | None = None) -> Step:
    """Move the session back to before its last step; returns the removed step."""
    ref = ref or active_ref(ws)
    head = ws.refs.read(ref)
    if head is None:
        raise NotFound("the session is empty: nothing to pop")
    obj = ws.objects.read(head)
    assert isinstance(obj, Session)
    if obj.parent is None:
        ws.refs.delete(ref, head, "pop")
    else:
        ws.refs.update(ref, obj.parent, head, "pop")
    return Step(head, obj.job, obj.step, obj.step_kind, obj.supersedes, obj.time_ns)


def reset(ws: Workspace) -> str:
    """Start a fresh session; the old one stays under its ref. Returns the new ref."""
    name = time.strftime("s-%Y%m%d-%H%M%S", time.gmtime())
    ref = f"refs/sessions/{name}"
    n = 1
    while ws.refs.read(ref) is not None or ref == active_ref(ws):
        n += 1
        ref = f"refs/sessions/{name}-{n}"
    ws.refs.set_head(ref)
    return ref
