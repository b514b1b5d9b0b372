"""Refs: compare-and-swap, reflog, and no lost update under concurrency."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from roar.errors import RefConflict, UsageError
from roar.objects.session import Session
from roar.refs.refstore import RefStore
from roar.workspace import Workspace

A, B, C = "a" * 64, "b" * 64, "c" * 64
REF = "refs/sessions/main"


def test_compare_and_swap(workspace: Workspace) -> None:
    refs = workspace.refs
    refs.update(REF, A, None, "first")
    with pytest.raises(RefConflict):
        refs.update(REF, B, None)
    with pytest.raises(RefConflict):
        refs.update(REF, B, C)
    refs.update(REF, B, A, "second")
    assert refs.read(REF) == B
    assert [(e.old, e.new, e.message) for e in refs.reflog(REF)] == [
        (None, A, "first"),
        (A, B, "second"),
    ]
    refs.delete(REF, B)
    assert refs.read(REF) is None


def test_head_names_the_default_session(workspace: Workspace) -> None:
    assert workspace.refs.head_target() == REF
    workspace.refs.set_head("refs/sessions/other")
    assert workspace.refs.head_target() == "refs/sessions/other"


@pytest.mark.parametrize("bad", ["refs/../x", "refs/a b/c", "HEADS", "refs/x", "refs/a/b.lock", ""])
def test_bad_ref_names_are_refused(workspace: Workspace, bad: str) -> None:
    with pytest.raises(UsageError):
        workspace.refs.update(bad, A)


def test_lock_of_a_killed_holder_is_taken_over_at_once(workspace: Workspace) -> None:
    path = workspace.dir / "refs/sessions/main.lock"
    path.write_text("garbage from a dead writer")  # exists, nobody holds its flock
    start = time.monotonic()
    workspace.refs.update(REF, A, None)
    assert time.monotonic() - start < 1.0
    assert workspace.refs.read(REF) == A
    assert not path.exists()


def _append_steps(root: str, count: int, worker: int) -> None:
    ws = Workspace(Path(root))
    for i in range(count):
        while True:
            parent = ws.refs.read(REF)
            sid = ws.objects.write(Session(parent, "e" * 64, 1, "run", worker * 10_000 + i))
            try:
                ws.refs.update(REF, sid, parent, f"worker {worker} step {i}")
                break
            except RefConflict:
                continue


def test_eight_processes_updating_one_ref_lose_no_update(workspace: Workspace) -> None:
    workers, each = 8, 200
    ctx = multiprocessing.get_context("fork")
    procs = [
        ctx.Process(target=_append_steps, args=(str(workspace.root), each, w))
        for w in range(workers)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0
    chain, cur = [], workspace.refs.read(REF)
    while cur is not None:
        obj = workspace.objects.read(cur)
        chain.append(obj.time_ns)
        cur = obj.parent
    assert sorted(chain) == sorted(w * 10_000 + i for w in range(workers) for i in range(each))
    assert len(list(workspace.refs.reflog(REF))) == workers * each
    assert (workspace.dir / REF).read_text().endswith("\n")


def test_refstore_lists_refs(workspace: Workspace) -> None:
    refs = RefStore(workspace.dir)
    refs.update("refs/sessions/a", A)
    refs.update("refs/labels/" + B, C)
    assert refs.list("refs/sessions/") == {"refs/sessions/a": A}
    assert refs.list() == {"refs/labels/" + B: C, "refs/sessions/a": A}
