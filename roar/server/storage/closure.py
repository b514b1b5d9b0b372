"""Fetch: the lineage closure of a hash that a caller may read, and its frames.

docs/protocol.md §4 lists the steps: the hash, the jobs upstream of it as
the lineage core walks them (`roar.lineage.closure.upstream`: one producer
per hash, composites followed, so a fetch brings what `roar lineage` shows),
the whole session chains that ran them, what those objects reference, and
the labels on all of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, and_, select

from roar.errors import NotFound
from roar.lineage.chain import live
from roar.lineage.closure import upstream
from roar.lineage.producers import Facts
from roar.server import schema as t
from roar.server.scope import Caller, shown_ref_namespace
from roar.server.storage.database import Database, chunks, visible
from roar.server.storage.lineage import RegistrySource, visible_objects
from roar.server.storage.records import Closure, RefHead


class Closures:
    def __init__(self, db: Database):
        self.db = db

    def of(self, want: str, have: set[str], source: RegistrySource) -> Closure:
        """Ids upstream of `want` that the source's caller may read, minus `have`.

        `want` is an artifact hash (its lineage), a job (the job's), or a session
        object (its chain, and the lineage of its live steps)."""
        caller = source.caller
        result: set[str] = set()
        jobs: set[str] = set()
        sessions: set[str] = set()
        with self.db.read() as conn:
            kind = None
            if visible_objects(conn, [want], caller):
                kind = conn.execute(select(t.objects.c.kind).where(t.objects.c.id == want)).scalar()
        if kind == "session":
            sessions.add(want)
            try:
                start = {"jobs": [s.job for s in live(source.chain(want))]}
            except NotFound:  # the object is visible, its index row is not: nothing to walk
                start = {"jobs": []}
        elif kind == "job":
            start = {"jobs": [want]}
        else:
            if kind is not None:
                result.add(want)
            start = {"hashes": [want]}
        source.read_ahead(**start)
        jobs |= set(upstream(Facts(source), **start).jobs)
        with self.db.read() as conn:
            heads, refs = _heads(conn, jobs, caller)
        # The sessions those jobs are steps of: whole chains, from the refs' heads.
        for head in sorted(heads | sessions):
            if head in sessions and head != want:
                continue  # inside a chain already read
            try:
                chain = source.chain(head)
            except NotFound:
                continue
            sessions |= {s.session_object for s in chain}
            jobs |= {s.job for s in chain}
        with self.db.read() as conn:
            result |= jobs | sessions
            result = visible_objects(conn, result, caller)
            # Everything those objects point at (env, patch, trees), transitively.
            frontier = set(result)
            while frontier:
                dst = _column(conn, t.edges, "dst", "src", frontier, None, None)
                frontier = visible_objects(conn, dst - result, caller)
                result |= frontier
            artifacts = _column(conn, t.artifact_jobs, "hash", "job_id", jobs, caller, None)
            result |= _column(
                conn, t.labels, "label_id", "target", result | artifacts, caller, None
            )
        return Closure(sorted(result - have), refs, len(result))

    def frames(self, ids: list[str]) -> Iterator[tuple[str, bytes]]:
        """(id, zstd frame) of each id, in the order given (sorted ids give a pack's order)."""
        with self.db.read() as conn:
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                rows = dict(
                    conn.execute(
                        select(t.objects.c.id, t.objects.c.frame).where(t.objects.c.id.in_(chunk))
                    ).all()
                )
                for oid in chunk:
                    yield oid, bytes(rows[oid])


def _column(
    conn: Connection,
    table: Any,
    out: str,
    key: str,
    values: set[str],
    caller: Caller | None,
    role: str | None,
) -> set[str]:
    found: set[str] = set()
    for chunk in chunks(values):
        q = select(table.c[out]).where(table.c[key].in_(chunk))
        if caller is not None:
            q = q.where(visible(table, caller))
        if role is not None:
            q = q.where(table.c.role == role)
        found.update(conn.execute(q).scalars())
    return found


def _heads(conn: Connection, jobs: set[str], caller: Caller) -> tuple[set[str], list[RefHead]]:
    """Session heads holding `jobs`: refs' targets, else the steps themselves."""
    steps = _column(conn, t.sessions, "session_id", "job_id", jobs, caller, None)
    heads: set[str] = set()
    refs: list[RefHead] = []
    covered: set[str] = set()
    r, rm = t.refs, t.ref_members
    for chunk in chunks(steps):
        rows = conn.execute(
            select(r.c.name, r.c.target, r.c.ref_ns, rm.c.session_id)
            .select_from(rm.join(r, and_(r.c.ref_ns == rm.c.ref_ns, r.c.name == rm.c.name)))
            .where(rm.c.session_id.in_(chunk), visible(r, caller))
        ).all()
        for name, target, ref_ns, member in rows:
            covered.add(member)
            if target not in heads:
                heads.add(target)
                refs.append(RefHead(name, target, shown_ref_namespace(ref_ns)))
    return heads | (steps - covered), refs
