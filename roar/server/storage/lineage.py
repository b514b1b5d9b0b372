"""The registry's lineage reads: jobs by id, writers and readers of a hash, members
of a composite, a session chain, where a job is a step. Batched: one query per
chunk of ids, or one recursive query for a chain, never one per object.

Every read is limited to what the caller may see. The names and shapes follow
`roar.lineage.source.LineageSource` (docs/lineage.md), the questions every
store answers, so a registry source is these methods with the caller bound.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from roar.objects.base import RoarObject
from roar.objects.job import Job
from roar.server import schema as t
from roar.server.limits import Limits
from roar.server.scope import Caller
from roar.server.storage.database import Database, chunks, visible
from roar.server.storage.records import ArtifactRow, JobRow, SessionRow, StepRef, TreeMember
from roar.server.verify import parse_stored


class LineageReads:
    def __init__(self, db: Database, limits: Limits):
        self.db = db
        self.limits = limits

    # -- objects ----------------------------------------------------------

    def objects(self, ids: Iterable[str], caller: Caller) -> dict[str, RoarObject]:
        """Parsed objects among `ids` that the caller may read."""
        out: dict[str, RoarObject] = {}
        with self.db.read() as conn:
            for chunk in chunks(visible_objects(conn, ids, caller)):
                rows = conn.execute(
                    select(t.objects.c.id, t.objects.c.frame).where(t.objects.c.id.in_(chunk))
                ).all()
                for oid, frame in rows:
                    out[oid] = parse_stored(frame, oid, self.limits)
        return out

    def jobs(self, ids: Iterable[str], caller: Caller) -> dict[str, Job]:
        """Visible job objects by id (other kinds among `ids` are left out)."""
        return {i: o for i, o in self.objects(ids, caller).items() if isinstance(o, Job)}

    def job_rows(self, job_ids: Iterable[str], caller: Caller) -> dict[str, JobRow]:
        """Index rows of visible jobs (command, owner, times, exit code, GPU)."""
        j = t.jobs
        cols = (j.c.job_id, j.c.owner, j.c.command, j.c.type, j.c.started_ns, j.c.ended_ns,
                j.c.exit_code, j.c.gpu)  # fmt: skip
        out: dict[str, JobRow] = {}
        with self.db.read() as conn:
            for chunk in chunks(job_ids):
                for r in conn.execute(
                    select(*cols).where(j.c.job_id.in_(chunk), visible(j, caller))
                ).all():
                    out.setdefault(r[0], JobRow(*r))
        return out

    def job_artifacts(self, job_ids: Iterable[str], caller: Caller) -> list[ArtifactRow]:
        """The visible inputs and outputs of jobs."""
        aj = t.artifact_jobs
        rows: set[tuple[Any, ...]] = set()
        with self.db.read() as conn:
            for chunk in chunks(job_ids):
                rows.update(
                    conn.execute(
                        select(
                            aj.c.job_id, aj.c.role, aj.c.hash, aj.c.path, aj.c.size, aj.c.kind
                        ).where(aj.c.job_id.in_(chunk), visible(aj, caller))
                    ).all()
                )
        return [ArtifactRow(*r) for r in sorted(rows)]

    # -- writers and readers -----------------------------------------------

    def writers(self, hashes: Iterable[str], caller: Caller) -> dict[str, set[str]]:
        """hash -> every visible job that wrote it, or wrote a composite holding it.

        A file inside a composite counts as written by the composite's job, as
        in a local workspace (docs/lineage.md). Hashes nobody wrote are left out.
        """
        return self._uses(hashes, caller, "out")

    def readers(self, hashes: Iterable[str], caller: Caller) -> dict[str, set[str]]:
        """hash -> every visible job that read it, or read a composite holding it."""
        return self._uses(hashes, caller, "in")

    def _uses(self, hashes: Iterable[str], caller: Caller, role: str) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        with self.db.read() as conn:
            for chunk in chunks(hashes):
                for digest, job in uses(conn, chunk, caller, role):
                    found.setdefault(digest, set()).add(job)
        return found

    def latest_producer(
        self, digest: str, caller: Caller, before_ns: int | None = None
    ) -> str | None:
        """The visible job that last wrote `digest` (ending by `before_ns`, if given)."""
        aj = t.artifact_jobs
        q = (
            select(t.jobs.c.job_id)
            .join(aj, aj.c.job_id == t.jobs.c.job_id)
            .where(aj.c.hash == digest, aj.c.role == "out")
            .where(visible(aj, caller), visible(t.jobs, caller))
            .order_by(t.jobs.c.ended_ns.desc())
            .limit(1)
        )
        if before_ns is not None:
            q = q.where(t.jobs.c.ended_ns <= before_ns)
        with self.db.read() as conn:
            return conn.execute(q).scalar()  # type: ignore[no-any-return]

    def upstream_hashes(
        self, hashes: list[str], jobs: list[str], caller: Caller, limit: int
    ) -> list[str]:
        """Artifacts upstream of `hashes` and of `jobs`' inputs, themselves included.

        One recursive query (artifact -> its producer's inputs), so a lineage
        500 levels deep costs one round trip, not a thousand; a composite's
        files lead to the composite's producer, by one more query per level
        of composites.
        """
        aj = t.artifact_jobs
        o, i = aj.alias("o"), aj.alias("i")
        found: list[str] = []
        seen: set[str] = set()
        walked = set(jobs)
        seed_hashes, seed_jobs = list(hashes), list(jobs)
        with self.db.read() as conn:
            while (seed_hashes or seed_jobs) and len(found) < limit:
                seed = select(aj.c.hash.label("hash")).where(
                    or_(
                        aj.c.hash.in_(seed_hashes),
                        and_(aj.c.job_id.in_(seed_jobs), aj.c.role == "in"),
                    ),
                    visible(aj, caller),
                )
                up = seed.cte("up", recursive=True)
                up = up.union(
                    select(i.c.hash)
                    .select_from(
                        up.join(o, o.c.hash == up.c.hash).join(i, i.c.job_id == o.c.job_id)
                    )
                    .where(
                        o.c.role == "out", i.c.role == "in", visible(o, caller), visible(i, caller)
                    )
                )
                rows = conn.execute(select(up.c.hash).limit(limit)).scalars()
                level = [h for h in rows if h not in seen]
                seen.update(level)
                found.extend(level)
                # Files read from composites: go on from the composites' producers.
                composite = {j for _, j in uses(conn, level, caller, "out", direct=False)}
                seed_hashes, seed_jobs = [], sorted(composite - walked)
                walked.update(composite)
        return found[:limit]

    # -- sessions ---------------------------------------------------------

    def chain(self, head: str, caller: Caller) -> list[SessionRow]:
        """The visible steps from the first to session object `head`, oldest first.

        Empty when `head` is not a visible session object; it starts later
        than the first step when the older part is not visible. Which steps
        are superseded is the rules' decision (roar.lineage.chain.mark_superseded).
        """
        with self.db.read() as conn:
            return list(reversed(chain_rows(conn, head, visible(t.sessions, caller))))

    def placements(self, job_ids: Iterable[str], caller: Caller) -> dict[str, list[StepRef]]:
        """job -> the session steps that ran it, each with the head of a ref holding it."""
        s, rm, r = t.sessions, t.ref_members, t.refs
        out: dict[str, list[StepRef]] = {}
        with self.db.read() as conn:
            for chunk in chunks(job_ids):
                rows = conn.execute(
                    select(s.c.job_id, s.c.session_id, s.c.step, r.c.target, r.c.name)
                    .select_from(
                        s.outerjoin(rm, rm.c.session_id == s.c.session_id).outerjoin(
                            r,
                            and_(
                                r.c.ref_ns == rm.c.ref_ns,
                                r.c.name == rm.c.name,
                                visible(r, caller),
                            ),
                        )
                    )
                    .where(s.c.job_id.in_(chunk), visible(s, caller))
                ).all()
                seen: set[tuple[str, str]] = set()
                for job, session, step, head, name in rows:
                    if (job, session) in seen and head is None:
                        continue
                    seen.add((job, session))
                    out.setdefault(job, []).append(StepRef(job, session, step, head, name))
        return out

    # -- composites -------------------------------------------------------

    def members(self, trees: Iterable[str], caller: Caller) -> dict[str, list[TreeMember]]:
        """The files of visible composites, by composite hash, in path order."""
        te = t.tree_entries
        out: dict[str, list[TreeMember]] = {}
        with self.db.read() as conn:
            for chunk in chunks(visible_objects(conn, trees, caller)):
                for tree, digest, path, size in conn.execute(
                    select(te.c.tree, te.c.hash, te.c.path, te.c.size)
                    .where(te.c.tree.in_(chunk))
                    .order_by(te.c.tree, te.c.path)
                ).all():
                    out.setdefault(tree, []).append(TreeMember(tree, digest, path, size))
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


def uses(
    conn: Connection, hashes: list[str], caller: Caller, role: str, *, direct: bool = True
) -> set[tuple[str, str]]:
    """(hash, job) pairs of jobs with the hashes as `role` ("out": wrote, "in": read),
    directly or inside a composite; `direct=False` gives only the composite ones."""
    aj, te = t.artifact_jobs, t.tree_entries
    out: set[tuple[str, str]] = set()
    for chunk in chunks(hashes):
        if direct:
            out.update(
                conn.execute(
                    select(aj.c.hash, aj.c.job_id).where(
                        aj.c.hash.in_(chunk), aj.c.role == role, visible(aj, caller)
                    )
                ).all()  # type: ignore[arg-type]
            )
        out.update(
            conn.execute(
                select(te.c.hash, aj.c.job_id)
                .join(aj, aj.c.hash == te.c.tree)
                .where(te.c.hash.in_(chunk), aj.c.role == role, visible(aj, caller))
            ).all()  # type: ignore[arg-type]
        )
    return out


def chain_rows(conn: Connection, head: str, condition: Any) -> list[SessionRow]:
    """Session rows meeting `condition` from `head` back through parents (head first).

    One recursive query; UNION (not UNION ALL) ends it even on a cycle.
    """
    s = t.sessions
    c = select(s.c.session_id.label("id")).where(s.c.session_id == head, condition)
    c = c.cte("chain", recursive=True)
    c = c.union(
        select(s.c.parent)
        .join(c, s.c.session_id == c.c.id)
        .where(condition, s.c.parent.is_not(None))
    )
    cols = (s.c.session_id, s.c.job_id, s.c.parent, s.c.step, s.c.step_kind, s.c.supersedes,
            s.c.time_ns)  # fmt: skip
    rows = conn.execute(select(*cols).where(s.c.session_id.in_(select(c.c.id)), condition)).all()
    by_id = {r[0]: SessionRow(*r) for r in rows}
    out: list[SessionRow] = []
    cur: str | None = head
    while cur is not None and cur in by_id and len(out) < len(by_id):
        out.append(by_id[cur])
        cur = by_id[cur].parent
    return out


def chain_ids(conn: Connection, head: str, condition: Any) -> list[str]:
    return [r.session for r in chain_rows(conn, head, condition)]
