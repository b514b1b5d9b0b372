"""`LineageSource` over objects and refs: the object store, or plain dicts.

The reference implementation: it reads every object once, on first use,
and answers from what it read. Over a workspace (`from_workspace`) that is
the whole store, so it serves fsck-like checks, tests, and a workspace
whose index cannot be written; commands use the session index
(`roar.index.source`), which answers the same from SQLite. Over dicts
(`in_memory`) it is the rule suite's source, answering in microseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING

from roar.lineage.chain import walk
from roar.lineage.source import Named, Placement, Step
from roar.objects.base import RoarObject
from roar.objects.job import Job
from roar.objects.session import Session
from roar.objects.tree import Tree

if TYPE_CHECKING:
    from roar.workspace import Workspace

SESSION_REF_PREFIXES = ("refs/sessions/", "refs/remotes/")


class ObjectSource:
    """Answers from every object `ids()` lists, read with `read(id)`."""

    def __init__(
        self,
        read: Callable[[str], RoarObject],
        ids: Callable[[], Iterable[str]],
        refs: Callable[[], dict[str, str]],
    ):
        self._read = read
        self._ids = ids
        self._refs = refs
        self._objects: dict[str, RoarObject] | None = None
        self._writers: dict[str, set[str]] = {}
        self._readers: dict[str, set[str]] = {}
        self._placements: dict[str, list[Placement]] | None = None

    @classmethod
    def from_workspace(cls, ws: Workspace) -> ObjectSource:
        def refs() -> dict[str, str]:
            found: dict[str, str] = {}
            for prefix in SESSION_REF_PREFIXES:
                found.update(ws.refs.list(prefix))
            return found

        return cls(ws.objects.read, ws.objects.all_ids, refs)

    @classmethod
    def in_memory(cls, objects: dict[str, RoarObject], refs: dict[str, str]) -> ObjectSource:
        return cls(objects.__getitem__, objects.keys, lambda: dict(refs))

    # -- reading everything once ------------------------------------------

    def _all(self) -> dict[str, RoarObject]:
        if self._objects is None:
            self._objects = {oid: self._read(oid) for oid in sorted(self._ids())}
            for oid, obj in self._objects.items():
                if isinstance(obj, Job):
                    self._index(oid, obj)
        return self._objects

    def _index(self, oid: str, job: Job) -> None:
        for arts, table in ((job.outputs, self._writers), (job.inputs, self._readers)):
            for art in arts:
                table.setdefault(art.hash, set()).add(oid)
                for member in self._tree_members(art.hash) if art.kind == "tree" else ():
                    table.setdefault(member, set()).add(oid)

    def _tree_members(self, tree: str) -> tuple[str, ...]:
        obj = (self._objects or {}).get(tree)
        return tuple(e.hash for e in obj.entries) if isinstance(obj, Tree) else ()

    def _object(self, oid: str, kind: type[RoarObject]) -> RoarObject | None:
        obj = self._all().get(oid)
        return obj if isinstance(obj, kind) else None

    # -- LineageSource -----------------------------------------------------

    def jobs(self, ids: Collection[str], *, context: bool = False) -> dict[str, Job]:
        found = {}
        for oid in ids:
            job = self._object(oid, Job)
            if isinstance(job, Job):
                found[oid] = job
        return found

    def writers(self, hashes: Collection[str]) -> dict[str, set[str]]:
        self._all()
        return {h: set(self._writers[h]) for h in hashes if h in self._writers}

    def readers(self, hashes: Collection[str]) -> dict[str, set[str]]:
        self._all()
        return {h: set(self._readers[h]) for h in hashes if h in self._readers}

    def members(self, trees: Collection[str]) -> dict[str, tuple[str, ...]]:
        self._all()
        return {t: m for t in trees if (m := self._tree_members(t))}

    def session_refs(self) -> dict[str, str]:
        return {
            name: head
            for name, head in sorted(self._refs().items())
            if isinstance(self._object(head, Session), Session)
        }

    def chain(self, head: str) -> list[Step]:
        def read(oid: str) -> Session | None:
            obj = self._all().get(oid)
            return obj if isinstance(obj, Session) else None

        return walk(head, read)

    def placements(self, jobs: Collection[str]) -> dict[str, list[Placement]]:
        if self._placements is None:
            self._placements = {}
            for ref, head in self.session_refs().items():
                for step in self.chain(head):
                    self._placements.setdefault(step.job, []).append(Placement(ref, step))
        return {j: list(self._placements[j]) for j in jobs if j in self._placements}

    def digested(self, algorithm: str, prefix: str, limit: int) -> list[str]:
        found = {
            a.hash
            for obj in self._all().values()
            if isinstance(obj, Job)
            for a in (*obj.inputs, *obj.outputs)
            if (a.digest(algorithm) or "").startswith(prefix)
        }
        return sorted(found)[:limit]

    def named(self, prefix: str, limit: int) -> list[Named]:
        objects = self._all()
        found = {oid: obj.kind for oid, obj in objects.items() if oid.startswith(prefix)}
        for digest in (*self._writers, *self._readers):
            if digest.startswith(prefix):
                found.setdefault(digest, "file")
        return [Named(oid, kind) for oid, kind in sorted(found.items())[:limit]]
