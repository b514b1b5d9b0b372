"""The registry's `LineageSource` (roar/lineage/source.py) over its database, for one caller.

Every answer is limited to what the caller may see (docs/protocol.md §5):
jobs, sessions and refs by their namespace; an artifact's existence is
global, but who wrote or read it follows the scope of the job that did.
None of these reads chooses anything: the rules of roar/lineage/ do, so
the API, the pages, fetch and `roar show` give one answer.

Batched: each method is one query per chunk of 500 ids (a chain is one
recursive query), so a lineage walk costs as many queries as it is deep.
`read_ahead` makes a deep walk cheaper still: one recursive query finds
every hash upstream of a start, and the writers, jobs and placements of
all of them are read in a few chunked queries before the rules ask.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    cast,
    exists,
    literal,
    select,
    tuple_,
    union,
    union_all,
)

from roar.errors import NotFound
from roar.lineage.chain import mark_superseded
from roar.lineage.source import Named, Placement, Step
from roar.objects.base import RoarObject
from roar.objects.job import Job
from roar.server import schema as t
from roar.server.limits import Limits
from roar.server.scope import Caller
from roar.server.storage.database import Database, chunks, reading, visible, visible_to
from roar.server.storage.records import JobRow
from roar.server.verify import parse_stored

REF_SEP = " "  # between a ref's namespace and its name in a source ref: neither holds a space


def source_ref(ref_ns: str, name: str) -> str:
    """The `LineageSource` name of the registry ref `name` (sessions/...) in `ref_ns`."""
    return f"{ref_ns}{REF_SEP}{name}"


def split_ref(ref: str) -> tuple[str, str]:
    """(ref namespace, name) of a source ref made by `source_ref`."""
    ref_ns, _, name = ref.partition(REF_SEP)
    return ref_ns, name


class RegistrySource:
    """A `LineageSource` over the registry's tables, as `caller` may see them.

    One per request: it caches what it read (writers, and what `read_ahead`
    found), so it must not outlive a request that could see a push.
    """

    def __init__(self, db: Database, limits: Limits, caller: Caller):
        self.db = db
        self.limits = limits
        self.caller = caller
        self._writers: dict[str, set[str]] = {}
        self._jobs: dict[str, Job] = {}
        self._placements: dict[str, list[Placement]] = {}

    # -- LineageSource -----------------------------------------------------

    def jobs(self, ids: Collection[str], *, context: bool = False) -> dict[str, Job]:
        """Visible job objects, parsed from their stored frames (`context` is in the frame)."""
        found = {i: self._jobs[i] for i in ids if i in self._jobs}
        missing = [i for i in ids if i not in self._jobs]
        if missing:
            for oid, obj in self.objects(missing, kind="job").items():
                if isinstance(obj, Job):
                    self._jobs[oid] = found[oid] = obj
        return found

    def objects(self, ids: Iterable[str], *, kind: str | None = None) -> dict[str, RoarObject]:
        """Parsed objects among `ids` that the caller may read (of `kind`, when given)."""
        q = _OBJECTS_OF_KIND if kind is not None else _OBJECTS
        out: dict[str, RoarObject] = {}
        with self.db.read() as conn:
            for chunk in chunks(ids):
                for oid, frame in conn.execute(q, reading(self.caller, ids=chunk, kind=kind)):
                    out[oid] = parse_stored(frame, oid, self.limits)
        return out

    def writers(self, hashes: Collection[str]) -> dict[str, set[str]]:
        missing = [h for h in hashes if h not in self._writers]
        if missing:
            found = self._uses(missing, "out")
            for h in missing:
                self._writers[h] = found.get(h, set())
        return {h: set(self._writers[h]) for h in hashes if self._writers.get(h)}

    def know_writers(self, digest: str, jobs: set[str]) -> None:
        """Take the writers of `digest` from a read that already found them (a lookup's
        rows: the same visible direct and composite writers `writers` reads)."""
        self._writers[digest] = set(jobs)

    def readers(self, hashes: Collection[str]) -> dict[str, set[str]]:
        return self._uses(hashes, "in")

    def members(self, trees: Collection[str]) -> dict[str, tuple[str, ...]]:
        """Members of visible composites in entry order: bytewise by path, as the tree
        object lists them (sorted here: PostgreSQL orders text by its collation)."""
        te, ons = t.tree_entries, t.object_ns
        seen = exists().where(ons.c.object_id == te.c.tree, visible(ons, self.caller))
        rows: dict[str, list[tuple[bytes, str]]] = {}
        with self.db.read() as conn:
            for chunk in chunks(trees):
                for tree, path, digest in conn.execute(
                    select(te.c.tree, te.c.path, te.c.hash).where(te.c.tree.in_(chunk), seen)
                ).all():
                    rows.setdefault(tree, []).append((path, digest))
        return {tree: tuple(d for _, d in sorted(entries)) for tree, entries in rows.items()}

    def session_refs(self) -> dict[str, str]:
        r = t.refs
        with self.db.read() as conn:
            rows = conn.execute(
                select(r.c.ref_ns, r.c.name, r.c.target).where(visible(r, self.caller))
            ).all()
        return {source_ref(ns, name): target for ns, name, target in sorted(rows)}

    def heads(self, refs: Iterable[str]) -> dict[str, str]:
        """The heads of the visible refs among `refs` (source refs): `session_refs`
        for a few refs, without reading every ref the caller may see."""
        r = t.refs
        keys = sorted({split_ref(ref) for ref in refs})
        out: dict[str, str] = {}
        with self.db.read() as conn:
            for i in range(0, len(keys), 500):
                rows = conn.execute(
                    select(r.c.ref_ns, r.c.name, r.c.target).where(
                        tuple_(r.c.ref_ns, r.c.name).in_(keys[i : i + 500]), visible(r, self.caller)
                    )
                ).all()
                out.update((source_ref(ns, name), target) for ns, name, target in rows)
        return out

    def chain(self, head: str) -> list[Step]:
        """The visible steps to `head`, oldest first; the chain starts later than its
        first step when the older part is not visible to the caller."""
        with self.db.read() as conn:
            rows = chain_rows(conn, head, visible(t.sessions, self.caller))
        if not rows:
            raise NotFound(f"{head} is not a session object registered where you can see it")
        return mark_superseded(rows[::-1])

    def placements(self, jobs: Collection[str]) -> dict[str, list[Placement]]:
        """Where jobs are steps of visible refs' chains, superseded as marked at push."""
        missing = [j for j in jobs if j not in self._placements]
        if missing:
            for j in missing:
                self._placements[j] = []
            for ref, step in self._placed(missing):
                self._placements[step.job].append(Placement(ref, step))
        return {j: list(self._placements[j]) for j in jobs if self._placements.get(j)}

    def digested(self, algorithm: str, prefix: str, limit: int) -> list[str]:
        """BLAKE3 hashes of files whose `algorithm` digest starts with `prefix`, as
        jobs the caller may see recorded them."""
        d = t.artifact_digests
        q = (
            select(d.c.hash)
            .where(
                d.c.algorithm == algorithm,
                d.c.digest >= prefix,
                d.c.digest < prefix + "g",
                visible(d, self.caller),
            )
            .distinct()
            .order_by(d.c.hash)
            .limit(limit)
        )
        with self.db.read() as conn:
            return [str(h) for (h,) in conn.execute(q).all()]

    def named(self, prefix: str, limit: int) -> list[Named]:
        """Visible objects, and artifact hashes registered by anyone (existence is
        global), whose id starts with `prefix`; an object's kind before "file"."""
        o, ons, a, te = t.objects, t.object_ns, t.artifacts, t.tree_entries
        low, high = prefix, prefix + "g"  # a range, so every backend uses the index

        def between(col: Any) -> Any:
            return and_(col >= low, col < high)

        seen = exists().where(ons.c.object_id == o.c.id, visible(ons, self.caller))
        objs = (
            select(o.c.id.label("id"), o.c.kind.label("kind"))
            .where(between(o.c.id), seen)
            .order_by(o.c.id)
            .limit(limit)
            .subquery()
        )
        hashes = union(
            select(a.c.hash.label("id")).where(between(a.c.hash)),
            select(te.c.hash).where(between(te.c.hash)),
        ).subquery()
        arts = select(hashes.c.id).order_by(hashes.c.id).limit(limit).subquery()
        both = union_all(select(objs.c.id, objs.c.kind), select(arts.c.id, literal("file")))
        with self.db.read() as conn:
            rows = conn.execute(both).all()
        found = {oid: kind for oid, kind in rows if kind == "file"}
        found.update((oid, kind) for oid, kind in rows if kind != "file")
        return [Named(oid, kind) for oid, kind in sorted(found.items())[:limit]]

    # -- reading ahead -----------------------------------------------------

    def read_ahead(
        self, hashes: Iterable[str] = (), jobs: Iterable[str] = (), limit: int = 0
    ) -> None:
        """Read, before the rules ask, the writers, jobs and placements of everything
        upstream of `hashes` and `jobs`' inputs (every writer followed: a superset of
        what the walk will ask). One recursive query per level of composites, then
        chunked reads; at most `limit` hashes (0: no limit). What a walk asks beyond
        that is read when asked: this changes how many queries, never an answer.
        """
        with self.db.read() as conn:
            found = upstream_hashes(conn, list(hashes), list(jobs), self.caller, limit)
        self.writers(found)
        job_ids = {j for h in found for j in self._writers.get(h, ())} | set(jobs)
        self.jobs(job_ids)
        self.placements(job_ids)

    # -- rows the pages show beside the rules' answers ------------------------

    def job_rows(self, job_ids: Iterable[str]) -> dict[str, JobRow]:
        """Index rows of visible jobs (command, owner, times, exit code, GPU)."""
        j = t.jobs
        cols = (j.c.job_id, j.c.owner, j.c.command, j.c.type, j.c.started_ns, j.c.ended_ns,
                j.c.exit_code, j.c.gpu)  # fmt: skip
        out: dict[str, JobRow] = {}
        with self.db.read() as conn:
            for chunk in chunks(job_ids):
                for r in conn.execute(
                    select(*cols).where(j.c.job_id.in_(chunk), visible(j, self.caller))
                ).all():
                    out.setdefault(r[0], JobRow(*r))
        return out

    # -- queries ----------------------------------------------------------

    def _uses(self, hashes: Collection[str], role: str) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        with self.db.read() as conn:
            for digest, job in uses(conn, hashes, self.caller, role):
                found.setdefault(digest, set()).add(job)
        return found

    def _placed(self, jobs: list[str]) -> Iterator[tuple[str, Step]]:
        with self.db.read() as conn:
            for chunk in chunks(jobs):
                rows = conn.execute(_PLACED, reading(self.caller, ids=chunk)).all()
                for ns, name, *step, superseded in sorted(rows):
                    yield source_ref(ns, name), Step(*step, superseded=bool(superseded))


def uses(
    conn: Connection, hashes: Iterable[str], caller: Caller, role: str
) -> set[tuple[str, str]]:
    """(hash, job) pairs of visible jobs with the hashes as `role` ("out": wrote, "in":
    read), directly or inside a composite: one query per chunk."""
    out: set[tuple[str, str]] = set()
    for chunk in chunks(hashes):
        out.update((h, j) for h, j in conn.execute(_USES, reading(caller, ids=chunk, role=role)))
    return out


# Statements built once (database.visible_to): `ids` is an expanding list of ids.
_IDS = bindparam("ids", expanding=True)


def _objects_statement(of_kind: bool) -> Any:
    o, ons = t.objects, t.object_ns
    seen = exists().where(ons.c.object_id == o.c.id, visible_to(ons))
    q = select(o.c.id, o.c.frame).where(o.c.id.in_(_IDS), seen)
    return q.where(o.c.kind == bindparam("kind")) if of_kind else q


_OBJECTS, _OBJECTS_OF_KIND = _objects_statement(False), _objects_statement(True)


def _uses_statement() -> Any:
    aj, te = t.artifact_jobs, t.tree_entries
    role = bindparam("role")
    direct = select(aj.c.hash, aj.c.job_id).where(
        aj.c.hash.in_(_IDS), aj.c.role == role, visible_to(aj)
    )
    inside = (
        select(te.c.hash, aj.c.job_id)
        .join(aj, aj.c.hash == te.c.tree)
        .where(te.c.hash.in_(_IDS), aj.c.role == role, visible_to(aj))
    )
    return union(direct, inside)


_USES = _uses_statement()


def _placed_statement() -> Any:
    s, rm, r = t.sessions, t.ref_members, t.refs
    cols = (r.c.ref_ns, r.c.name, s.c.session_id, s.c.job_id, s.c.step, s.c.step_kind,
            s.c.supersedes, s.c.time_ns, rm.c.superseded)  # fmt: skip
    return (
        select(*cols)
        .select_from(
            s.join(rm, rm.c.session_id == s.c.session_id).join(
                r, and_(r.c.ref_ns == rm.c.ref_ns, r.c.name == rm.c.name)
            )
        )
        .where(s.c.job_id.in_(_IDS), s.c.ns == r.c.ns, visible_to(r))
        .distinct()
    )


_PLACED = _placed_statement()


def upstream_hashes(
    conn: Connection, hashes: list[str], jobs: list[str], caller: Caller, limit: int
) -> list[str]:
    """Artifacts upstream of `hashes` and of `jobs`' inputs, themselves included, by
    every writer; at most `limit` (0: no limit). What `read_ahead` reads.

    One recursive query (artifact -> its writers' inputs) per level of composites: a
    file read from a composite leads on through the composite's writer.
    """
    aj = t.artifact_jobs
    o, i = aj.alias("o"), aj.alias("i")
    found: list[str] = []
    seen: set[str] = set()
    walked = set(jobs)
    seed_hashes, seed_jobs = list(hashes), list(jobs)
    cap = limit or None
    while seed_hashes or seed_jobs:
        seeds = [select(cast(literal(h), aj.c.hash.type).label("hash")) for h in seed_hashes]
        if seed_jobs:
            seeds.append(
                select(aj.c.hash.label("hash")).where(
                    aj.c.job_id.in_(seed_jobs), aj.c.role == "in", visible(aj, caller)
                )
            )
        up = (union_all(*seeds) if len(seeds) > 1 else seeds[0]).cte("up", recursive=True)
        up = up.union(
            select(i.c.hash)
            .select_from(up.join(o, o.c.hash == up.c.hash).join(i, i.c.job_id == o.c.job_id))
            .where(o.c.role == "out", i.c.role == "in", visible(o, caller), visible(i, caller))
        )
        q = select(up.c.hash)
        level = [
            h for h in conn.execute(q if cap is None else q.limit(cap)).scalars() if h not in seen
        ]
        seen.update(level)
        found.extend(level)
        if cap is not None and len(found) >= cap:
            return found[:cap]
        composite = {j for _, j in uses(conn, level, caller, "out")} - walked
        walked |= composite
        seed_hashes, seed_jobs = [], sorted(composite)
    return found


def chain_rows(conn: Connection, head: str, condition: Any) -> list[Step]:
    """Steps of session rows meeting `condition` from `head` back through parents (head
    first), unmarked. One recursive query; UNION (not UNION ALL) ends it on a cycle."""
    s = t.sessions
    c = select(s.c.session_id.label("id")).where(s.c.session_id == head, condition)
    c = c.cte("chain", recursive=True)
    c = c.union(
        select(s.c.parent)
        .join(c, s.c.session_id == c.c.id)
        .where(condition, s.c.parent.is_not(None))
    )
    cols = (s.c.session_id, s.c.parent, s.c.job_id, s.c.step, s.c.step_kind, s.c.supersedes,
            s.c.time_ns)  # fmt: skip
    rows = conn.execute(select(*cols).where(s.c.session_id.in_(select(c.c.id)), condition)).all()
    by_id = {r[0]: r for r in rows}
    out: list[Step] = []
    cur: str | None = head
    while cur is not None and cur in by_id and len(out) < len(by_id):
        sid, parent, job, step, kind, supersedes, when = by_id[cur]
        out.append(Step(sid, job, step, kind, supersedes, when))
        cur = parent
    return out


def visible_objects(conn: Connection, ids: Iterable[str], caller: Caller) -> set[str]:
    """The ids among `ids` of objects the caller may read."""
    found: set[str] = set()
    for chunk in chunks(ids):
        found.update(
            conn.execute(
                select(t.object_ns.c.object_id).where(
                    t.object_ns.c.object_id.in_(chunk), visible(t.object_ns, caller)
                )
            ).scalars()
        )
    return found
