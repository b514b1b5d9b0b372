"""The rule suite's worlds: jobs, composites and session chains built as objects."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import blake3

from roar.lineage.source import LineageSource
from roar.objects.base import RoarObject
from roar.objects.job import ArtifactRef, Job
from roar.objects.session import Session
from roar.objects.tree import Tree, TreeEntry


def h(name: str) -> str:
    """The hash of a named piece of content (tests speak of `h("model")`)."""
    return blake3.blake3(name.encode()).hexdigest()


class World:
    """Objects and refs as a store would hold them; time advances 10 ns per job."""

    def __init__(self) -> None:
        self.objects: dict[str, RoarObject] = {}
        self.refs: dict[str, str] = {}
        self.clock = 0

    def add(self, obj: RoarObject) -> str:
        oid = obj.id
        self.objects[oid] = obj
        return oid

    def job(
        self,
        argv: str,
        reads: Iterable[str] = (),
        writes: Iterable[str] = (),
        *,
        trees: dict[str, list[str]] | None = None,
        read_trees: Iterable[str] = (),
        exit_code: int = 0,
        started: int | None = None,
        ended: int | None = None,
        type: str = "run",
    ) -> str:
        """A job reading and writing named contents; `trees` are composite outputs
        (name -> member names), `read_trees` composite inputs (tree ids)."""
        self.clock += 10
        start = self.clock if started is None else started
        ins = [ArtifactRef(f"/w/in/{n}".encode(), h(n), 1) for n in reads]
        ins += [ArtifactRef(f"/w/tree-in/{t[:8]}".encode(), t, 2, "tree") for t in read_trees]
        outs = [ArtifactRef(f"/w/out/{n}".encode(), h(n), 1) for n in writes]
        for name, members in (trees or {}).items():
            outs.append(ArtifactRef(f"/w/out/{name}".encode(), self.tree(members), 2, "tree"))
        return self.add(
            Job(
                type=type,
                argv=tuple(a.encode() for a in argv.split()),
                cwd=b"/w",
                started_ns=start,
                ended_ns=start + 1 if ended is None else ended,
                exit_code=exit_code,
                inputs=tuple(sorted(ins, key=lambda a: a.path)),
                outputs=tuple(sorted(outs, key=lambda a: a.path)),
            )
        )

    def tree(self, members: list[str]) -> str:
        return self.add(Tree.of([TreeEntry(f"{m}.bin".encode(), h(m), 1) for m in members]))

    def step(
        self,
        job: str,
        step: int,
        *,
        ref: str = "refs/sessions/main",
        kind: str = "run",
        supersedes: str | None = None,
    ) -> str:
        """Append `job` to the session `ref` as step `step`; returns the session object id."""
        self.clock += 1
        oid = self.add(Session(self.refs.get(ref), job, step, kind, self.clock, supersedes))
        self.refs[ref] = oid
        return oid


class SourceMaker(Protocol):
    """Serves a world from one LineageSource implementation (tests/lineage/conftest.py)."""

    def __call__(self, world: World) -> LineageSource: ...

    def ref(self, world_ref: str) -> str:
        """What the source calls the world's ref `world_ref` (the registry keeps refs
        per pusher's namespace)."""
        ...
