"""Push: which objects a namespace lacks, and storing a checked pack in one transaction.

Objects, their index rows (artifacts, jobs, sessions, labels, composite
members) and the ref compare-and-swap commit together or not at all.
A label is stored only on what its pusher owns (docs/protocol.md §3.2).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from roar.lineage.chain import mark_superseded
from roar.lineage.source import Step
from roar.server import schema as t
from roar.server.errors import Forbidden, MissingReferences, RefMoved
from roar.server.indexing import IndexedEnv, IndexedJob, IndexedLabel, IndexedSession, IndexedTree
from roar.server.limits import Limits
from roar.server.scope import ANON, Namespace
from roar.server.storage.database import Database, chunks, insert_ignore
from roar.server.storage.lineage import chain_rows
from roar.server.storage.records import PushResult, RefUpdate
from roar.server.verify import CheckedObject, parse_stored


class Pushes:
    def __init__(self, db: Database, limits: Limits):
        self.db = db
        self.limits = limits

    def missing(self, ids: list[str], ns: str) -> list[str]:
        """Which of `ids` the namespace does not hold (negotiation), in the order given."""
        with self.db.read() as conn:
            have = _in_ns(conn, ids, ns)
        return [i for i in ids if i not in have]

    def ref(self, ref_ns: str, name: str) -> str | None:
        with self.db.read() as conn:
            return conn.execute(  # type: ignore[no-any-return]
                select(t.refs.c.target).where(t.refs.c.ref_ns == ref_ns, t.refs.c.name == name)
            ).scalar()

    def apply(
        self,
        objs: list[CheckedObject],
        dangling: set[str],
        where: Namespace,
        ref: RefUpdate | None,
    ) -> PushResult:
        """Store checked objects, index them and move the ref, in one transaction."""
        now = time.time_ns()
        by_id = {o.id: o for o in objs}
        with self.db.write() as conn:
            present = _in_ns(conn, dangling, where.ns)
            if present != dangling:
                raise MissingReferences(
                    "objects point at ids neither pushed nor stored: "
                    + ", ".join(sorted(dangling - present)[:5])
                )
            if ref is not None:
                target = by_id.get(ref.new)
                if target is None and ref.new not in _in_ns(conn, [ref.new], where.ns):
                    raise MissingReferences(f"ref target {ref.new} is not in the push or stored")
                if target is not None and target.kind != "session":
                    raise MissingReferences(f"ref target {ref.new} is not a session")
            already = _in_ns(conn, by_id, where.ns)
            fresh = [o for o in objs if o.id not in already]
            self._check_label_owners(conn, objs, fresh, where)
            insert_ignore(
                conn,
                t.objects,
                [
                    {
                        "id": o.id,
                        "kind": o.kind,
                        "size": o.size,
                        "frame": bytes(o.frame),
                        "stored_ns": now,
                    }
                    for o in fresh
                ],
            )
            insert_ignore(
                conn, t.edges, [{"src": o.id, "dst": r} for o in fresh for r in set(o.references)]
            )
            insert_ignore(
                conn,
                t.object_ns,
                [
                    {"object_id": o.id, "ns": where.ns, "public": where.public, "stored_ns": now}
                    for o in fresh
                ],
            )
            self._index(conn, fresh, objs, where, now)
            if ref is not None:
                pushed = {o.id: o.record for o in objs if isinstance(o.record, IndexedSession)}
                self._move_ref(conn, where, ref, pushed)
        return PushResult(len(fresh), len(objs) - len(fresh), ref)

    def _check_label_owners(
        self,
        conn: Connection,
        objs: list[CheckedObject],
        fresh: list[CheckedObject],
        where: Namespace,
    ) -> None:
        """Refuse a label on anything the pusher does not own in its namespace.

        Owned: what this pack holds, the artifacts its jobs read or wrote, and
        what the namespace already holds. Everyone shares the anonymous
        namespace, so there only what the pusher's own refs hold counts.
        """
        targets = {o.record.target for o in fresh if isinstance(o.record, IndexedLabel)}
        if not targets:
            return
        owned = {o.id for o in objs}
        for o in objs:
            if isinstance(o.record, IndexedJob):
                owned.update(a.hash for a in o.record.artifacts)
        todo = targets - owned
        if todo and where.ns != ANON:
            todo -= _in_ns(conn, todo, where.ns)
            aj = t.artifact_jobs
            for chunk in chunks(todo):
                todo -= set(
                    conn.execute(
                        select(aj.c.hash).where(aj.c.hash.in_(chunk), aj.c.ns == where.ns)
                    ).scalars()
                )
        elif todo:
            todo -= _held_by_refs(conn, todo, where.ref_ns)
        if todo:
            raise Forbidden(
                f"a label may only be pushed onto what you registered: {sorted(todo)[0]} "
                f"is not yours in {where.ns if where.ns != ANON else 'anonymous scope'}"
            )

    def _index(
        self,
        conn: Connection,
        fresh: list[CheckedObject],
        objs: list[CheckedObject],
        where: Namespace,
        now: int,
    ) -> None:
        scope = {"ns": where.ns, "public": where.public}
        gpus = {o.id: o.record.gpu for o in objs if isinstance(o.record, IndexedEnv)}
        arts: list[dict[str, Any]] = []
        jobs: list[dict[str, Any]] = []
        sessions: list[dict[str, Any]] = []
        labels: list[dict[str, Any]] = []
        members: list[dict[str, Any]] = []
        digests: list[dict[str, Any]] = []
        hashes: set[str] = set()
        for o in fresh:
            r = o.record
            if isinstance(r, IndexedJob):
                for a in r.artifacts:
                    hashes.add(a.hash)
                    arts.append(
                        {"hash": a.hash, "job_id": o.id, "role": a.role, "path": a.path,
                         "size": a.size, "kind": a.kind, **scope}
                    )  # fmt: skip
                digests.extend(
                    {"algorithm": al, "digest": d, "hash": h, **scope} for al, d, h in r.digests
                )
                jobs.append(
                    {"job_id": o.id, "owner": where.owner, "command": r.command, "type": r.type,
                     "started_ns": r.started_ns, "ended_ns": r.ended_ns,
                     "exit_code": r.exit_code, "gpu": self._gpu(conn, r.env, gpus), **scope}
                )  # fmt: skip
            elif isinstance(r, IndexedSession):
                sessions.append(
                    {"session_id": o.id, "job_id": r.job, "parent": r.parent, "step": r.step,
                     "step_kind": r.step_kind, "supersedes": r.supersedes,
                     "time_ns": r.time_ns, **scope}
                )  # fmt: skip
            elif isinstance(r, IndexedLabel):
                labels.extend(
                    {"label_id": o.id, "target": r.target, "key": k, "value": v,
                     "time_ns": r.time_ns, **scope}
                    for k, v in r.labels
                )  # fmt: skip
            elif isinstance(r, IndexedTree):
                members.extend(
                    {"tree": o.id, "hash": h, "path": p, "size": s} for h, p, s in r.entries
                )
        insert_ignore(conn, t.artifacts, [{"hash": h, "first_ns": now} for h in hashes])
        insert_ignore(conn, t.artifact_jobs, arts)
        insert_ignore(conn, t.artifact_digests, digests)
        insert_ignore(conn, t.jobs, jobs)
        insert_ignore(conn, t.sessions, sessions)
        insert_ignore(conn, t.labels, labels)
        insert_ignore(conn, t.tree_entries, members)

    def _gpu(self, conn: Connection, env_id: str | None, gpus: dict[str, str | None]) -> str | None:
        if env_id is None:
            return None
        if env_id not in gpus:
            from roar.objects.env import Env
            from roar.server.indexing import index_text

            frame = conn.execute(select(t.objects.c.frame).where(t.objects.c.id == env_id)).scalar()
            env = parse_stored(frame, env_id, self.limits) if frame is not None else None
            names = (
                [g.get("name") for g in env.gpus if isinstance(g, dict)]
                if isinstance(env, Env)
                else []
            )
            gpus[env_id] = (
                ", ".join(index_text(n) for n in names if isinstance(n, str) and n) or None
            )
        return gpus[env_id]

    def _move_ref(
        self,
        conn: Connection,
        where: Namespace,
        ref: RefUpdate,
        pushed: dict[str, IndexedSession],
    ) -> None:
        key = and_(t.refs.c.ref_ns == where.ref_ns, t.refs.c.name == ref.name)
        if ref.old is None:
            try:
                with conn.begin_nested():
                    conn.execute(
                        insert(t.refs).values(
                            ref_ns=where.ref_ns,
                            name=ref.name,
                            target=ref.new,
                            ns=where.ns,
                            public=where.public,
                        )
                    )
            except IntegrityError:
                raise RefMoved(f"ref {ref.name} already exists on the remote") from None
        else:
            moved = conn.execute(
                update(t.refs).where(key, t.refs.c.target == ref.old).values(target=ref.new)
            ).rowcount
            if moved != 1:
                raise RefMoved(f"ref {ref.name} moved on the remote (expected {ref.old[:12]})")
        members = t.ref_members
        this_ref = and_(members.c.ref_ns == where.ref_ns, members.c.name == ref.name)
        # The new steps, back through what this push holds; a fast-forward
        # keeps the members the ref already has.
        new: list[Step] = []  # head first
        seen: set[str] = set()
        cur: str | None = ref.new
        while cur is not None and cur in pushed and cur not in seen:
            seen.add(cur)
            r = pushed[cur]
            new.append(Step(cur, r.job, r.step, r.step_kind, r.supersedes, r.time_ns))
            cur = r.parent
        if cur is None or cur != ref.old:
            conn.execute(delete(members).where(this_ref))
            if cur is not None:
                new += chain_rows(conn, cur, t.sessions.c.ns == where.ns)
        else:
            _supersede(conn, this_ref, where.ns, {s.key for s in new})
        insert_ignore(
            conn,
            members,
            [
                {"ref_ns": where.ref_ns, "name": ref.name, "session_id": s.session_object,
                 "superseded": s.superseded}
                for s in mark_superseded(new[::-1])
            ],
        )  # fmt: skip


def _supersede(conn: Connection, this_ref: Any, ns: str, keys: set[tuple[str, int]]) -> None:
    """Mark the ref's members that execute one of the steps `keys` superseded: a
    fast-forward appended newer executions of them (docs/lineage.md §2)."""
    rm, s = t.ref_members, t.sessions
    ordered = sorted(keys)
    for i in range(0, len(ordered), 500):
        same_step = (
            select(s.c.session_id)
            .where(s.c.session_id == rm.c.session_id, s.c.ns == ns)
            .where(tuple_(s.c.step_kind, s.c.step).in_(ordered[i : i + 500]))
        )
        conn.execute(
            update(rm)
            .where(this_ref, rm.c.superseded.is_(False), exists(same_step))
            .values(superseded=True)
        )


def _in_ns(conn: Connection, ids: Any, ns: str) -> set[str]:
    found: set[str] = set()
    for chunk in chunks(ids):
        found.update(
            conn.execute(
                select(t.object_ns.c.object_id).where(
                    t.object_ns.c.ns == ns, t.object_ns.c.object_id.in_(chunk)
                )
            ).scalars()
        )
    return found


def _held_by_refs(conn: Connection, targets: set[str], ref_ns: str) -> set[str]:
    """Which targets the chains of refs in `ref_ns` hold: sessions, their jobs, their artifacts."""
    rm, s, aj = t.ref_members, t.sessions, t.artifact_jobs
    steps = (
        select(s.c.session_id, s.c.job_id)
        .join(rm, rm.c.session_id == s.c.session_id)
        .where(rm.c.ref_ns == ref_ns, s.c.ns == ANON)
        .subquery()
    )
    held: set[str] = set()
    for chunk in chunks(targets):
        held.update(
            conn.execute(select(steps.c.session_id).where(steps.c.session_id.in_(chunk))).scalars()
        )
        held.update(conn.execute(select(steps.c.job_id).where(steps.c.job_id.in_(chunk))).scalars())
        held.update(
            conn.execute(
                select(aj.c.hash)
                .join(steps, steps.c.job_id == aj.c.job_id)
                .where(aj.c.hash.in_(chunk), aj.c.ns == ANON)
            ).scalars()
        )
    return held
