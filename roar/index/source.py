"""`LineageSource` over the session index: the lineage rules' facts from SQLite.

What commands use: each method is one query per batch (chunked at 500
ids), after the index has caught up with the refs and, for questions
about any job, with the store.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator

from roar.index.session_index import STEP_COLUMNS, SessionIndex, step_of
from roar.lineage.chain import mark_superseded, walk
from roar.lineage.resolve import Resolver
from roar.lineage.source import Named, Placement, Step
from roar.objects.base import RoarObject
from roar.objects.job import Job
from roar.objects.session import Session
from roar.workspace import Workspace

_CHUNK = 500

_WRITERS = (
    "SELECT hash, job FROM artifacts WHERE role = ?1 AND hash IN ({marks}) UNION "
    "SELECT t.hash, a.job FROM tree_entries t JOIN artifacts a "
    "ON a.hash = t.tree AND a.role = ?1 AND a.kind = 'tree' WHERE t.hash IN ({marks})"
)


class IndexSource:
    def __init__(self, ws: Workspace, index: SessionIndex | None = None):
        self.ws = ws
        self.index = index or SessionIndex(ws)
        self._refs_synced = False
        self._store_synced = False

    def _refs(self) -> None:
        if not self._refs_synced:
            self.index.sync_all()
            self._refs_synced = True

    def _store(self) -> None:
        self._refs()
        if not self._store_synced:
            self.index.sync_store()
            self._store_synced = True

    def _rows(self, sql: str, ids: Collection[str], *head: object) -> Iterator[tuple[object, ...]]:
        items = sorted(set(ids))
        for i in range(0, len(items), _CHUNK):
            chunk = items[i : i + _CHUNK]
            marks = ",".join(f"?{n + len(head) + 1}" for n in range(len(chunk)))
            yield from self.index.query(sql.format(marks=marks), [*head, *chunk])

    # -- LineageSource -----------------------------------------------------

    def jobs(self, ids: Collection[str], *, context: bool = False) -> dict[str, Job]:
        if not context:
            return self.index.jobs(ids)
        found = {}
        for oid in ids:
            if self.ws.objects.contains(oid):
                obj = self.ws.objects.read(oid)
                if isinstance(obj, Job):
                    found[oid] = obj
        return found

    def _by_role(self, hashes: Collection[str], role: str) -> dict[str, set[str]]:
        self._store()
        out: dict[str, set[str]] = {}
        for digest, job in self._rows(_WRITERS, hashes, role):
            out.setdefault(str(digest), set()).add(str(job))
        return out

    def writers(self, hashes: Collection[str]) -> dict[str, set[str]]:
        return self._by_role(hashes, "out")

    def readers(self, hashes: Collection[str]) -> dict[str, set[str]]:
        return self._by_role(hashes, "in")

    def members(self, trees: Collection[str]) -> dict[str, tuple[str, ...]]:
        self._store()
        out: dict[str, list[str]] = {}
        for tree, digest in self._rows(
            "SELECT tree, hash FROM tree_entries WHERE tree IN ({marks}) ORDER BY rowid", trees
        ):
            out.setdefault(str(tree), []).append(str(digest))
        return {t: tuple(m) for t, m in out.items()}

    def session_refs(self) -> dict[str, str]:
        self._refs()
        return {
            str(ref): str(head)
            for ref, head in self.index.query("SELECT ref, head FROM heads ORDER BY ref", [])
        }

    def chain(self, head: str) -> list[Step]:
        self._refs()
        hit = next(
            iter(
                self.index.query(
                    "SELECT ref, seq FROM steps WHERE session_object = ? LIMIT 1", [head]
                )
            ),
            None,
        )
        if hit is None:  # a session object no ref reaches: read the chain itself
            return walk(head, self._read_session)
        ref, seq = hit
        rows = self.index.query(
            f"SELECT {STEP_COLUMNS} FROM steps WHERE ref = ? AND seq <= ? ORDER BY seq", [ref, seq]
        )
        steps = [step_of(r) for r in rows]
        is_head = next(iter(self.index.query("SELECT 1 FROM heads WHERE head = ?", [head])), None)
        return steps if is_head else mark_superseded(steps)

    def _read_session(self, oid: str) -> Session | None:
        if not self.ws.objects.contains(oid):
            return None
        obj: RoarObject = self.ws.objects.read(oid)
        return obj if isinstance(obj, Session) else None

    def placements(self, jobs: Collection[str]) -> dict[str, list[Placement]]:
        self._refs()
        out: dict[str, list[Placement]] = {}
        for ref, *row in self._rows(
            f"SELECT ref, {STEP_COLUMNS} FROM steps WHERE job IN ({{marks}}) ORDER BY ref, seq",
            jobs,
        ):
            step = step_of(tuple(row))
            out.setdefault(step.job, []).append(Placement(str(ref), step))
        return out

    def digested(self, algorithm: str, prefix: str, limit: int) -> list[str]:
        self._store()
        rows = self.index.query(
            "SELECT DISTINCT hash FROM digests WHERE algorithm = ? AND digest >= ? AND digest < ? "
            "ORDER BY hash LIMIT ?",
            [algorithm, prefix, prefix + "g", limit],
        )
        return [str(digest) for (digest,) in rows]

    def named(self, prefix: str, limit: int) -> list[Named]:
        self._store()
        low, high = prefix, prefix + "g"
        found: dict[str, str] = {}
        for oid, kind in self.index.query(
            "SELECT id, kind FROM objects WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
            [low, high, limit],
        ):
            found[str(oid)] = str(kind)
        for (digest,) in self.index.query(
            "SELECT DISTINCT hash FROM artifacts WHERE hash >= ?1 AND hash < ?2 UNION "
            "SELECT DISTINCT hash FROM tree_entries WHERE hash >= ?1 AND hash < ?2 "
            "ORDER BY 1 LIMIT ?3",
            [low, high, limit],
        ):
            found.setdefault(str(digest), "file")
        return [Named(oid, kind) for oid, kind in sorted(found.items())[:limit]]


def local(ws: Workspace) -> tuple[IndexSource, Resolver]:
    """The lineage source commands read, and the resolver of names over it."""
    source = IndexSource(ws)
    return source, Resolver(source, ws.refs.head_target(), ws.refs.read, ws.root)
