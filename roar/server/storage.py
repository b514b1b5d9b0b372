"""Every SQL statement of the registry, over SQLAlchemy Core.

One `Storage` per process holds only an engine; everything else is in the
database, so processes behind one PostgreSQL agree. A push is one
transaction: objects, index rows and the ref compare-and-swap commit
together or not at all.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError

from roar.objects.env import Env
from roar.objects.job import Job
from roar.objects.label import Label
from roar.objects.session import Session
from roar.server import schema as t
from roar.server.scope import Caller, Namespace
from roar.server.verify import VerifiedObject, decompress_capped

NONCE_WINDOW_S = 600
_CHUNK = 500


class RefMoved(Exception):
    """A ref compare-and-swap lost: the ref no longer holds the expected value."""


class MissingReferences(Exception):
    """Objects in a push point at objects neither pushed nor already in the namespace."""


@dataclass(frozen=True)
class RefUpdate:
    name: str  # e.g. "sessions/main"
    old: str | None
    new: str


@dataclass
class PushResult:
    stored: int
    already: int
    ref: RefUpdate | None = None


@dataclass
class Closure:
    ids: list[str]  # what to send: the closure minus what the client has
    refs: list[dict[str, str]] = field(default_factory=list)
    size: int = 0  # the whole closure, before `have` is taken off


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _text(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape").encode("utf-8", "backslashreplace").decode()


def _visible(table: Any, caller: Caller) -> Any:
    readable = caller.readable()
    if not readable:
        return table.c.public
    return or_(table.c.public, table.c.ns.in_(readable))


class Storage:
    def __init__(self, url: str):
        self.url = url
        self.engine = _engine(url)
        self._create_schema()

    def _create_schema(self) -> None:
        # Two processes starting together may race on CREATE TABLE; the loser retries.
        for attempt in range(5):
            try:
                t.metadata.create_all(self.engine)
                return
            except (IntegrityError, OperationalError):
                if attempt == 4:
                    raise
                time.sleep(0.2)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction (on SQLite, one that takes the write lock up front)."""
        with self.engine.connect().execution_options(write=True) as conn, conn.begin():
            yield conn

    def _insert_ignore(self, conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import (
                insert as dialect_insert,  # type: ignore[assignment]
            )
        for i in range(0, len(rows), _CHUNK):
            conn.execute(dialect_insert(table).on_conflict_do_nothing(), rows[i : i + _CHUNK])

    # -- identities ------------------------------------------------------

    def caller(self, fingerprint: str | None) -> Caller:
        if fingerprint is None:
            return Caller(None, None)
        with self.engine.connect() as conn:
            account = conn.execute(
                select(t.keys.c.account).where(t.keys.c.fingerprint == fingerprint)
            ).scalar()
            if account is None:
                return Caller(None, fingerprint)
            rows = conn.execute(
                select(t.members.c.owner, t.members.c.project).where(t.members.c.account == account)
            ).all()
        return Caller(account, fingerprint, tuple(f"{o}/{p}" for o, p in rows))

    def account_caller(self, account: str) -> Caller:
        """The reader a browser login acts as: the account and its projects."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.members.c.owner, t.members.c.project).where(t.members.c.account == account)
            ).all()
        return Caller(account, None, tuple(f"{o}/{p}" for o, p in rows))

    def use_nonce(self, fingerprint: str, nonce: str, created: int) -> bool:
        """Record a signature's nonce; False if it was seen before (a replay)."""
        now = int(time.time())
        with self._write() as conn:
            conn.execute(delete(t.nonces).where(t.nonces.c.created < now - NONCE_WINDOW_S))
            try:
                with conn.begin_nested():
                    conn.execute(
                        insert(t.nonces).values(
                            fingerprint=fingerprint, nonce=nonce, created=created
                        )
                    )
            except IntegrityError:
                return False
        return True

    def create_account(self, name: str, public_key: str, fingerprint: str) -> None:
        now = time.time_ns()
        with self._write() as conn:
            conn.execute(insert(t.accounts).values(name=name, created_ns=now))
            conn.execute(
                insert(t.keys).values(
                    fingerprint=fingerprint, account=name, public_key=public_key, created_ns=now
                )
            )

    def add_key(self, account: str, public_key: str, fingerprint: str) -> None:
        with self._write() as conn:
            conn.execute(
                insert(t.keys).values(
                    fingerprint=fingerprint,
                    account=account,
                    public_key=public_key,
                    created_ns=time.time_ns(),
                )
            )

    def account_keys(self, account: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.keys.c.fingerprint, t.keys.c.public_key, t.keys.c.created_ns).where(
                    t.keys.c.account == account
                )
            ).all()
        return [dict(r._mapping) for r in rows]

    def accounts(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.accounts.c.name, func.count(t.keys.c.fingerprint).label("keys"))
                .select_from(t.accounts.outerjoin(t.keys, t.keys.c.account == t.accounts.c.name))
                .group_by(t.accounts.c.name)
                .order_by(t.accounts.c.name)
            ).all()
        return [dict(r._mapping) for r in rows]

    def delete_account(self, name: str) -> bool:
        with self._write() as conn:
            conn.execute(delete(t.keys).where(t.keys.c.account == name))
            conn.execute(delete(t.members).where(t.members.c.account == name))
            return conn.execute(delete(t.accounts).where(t.accounts.c.name == name)).rowcount > 0

    def create_project(self, owner: str, name: str) -> None:
        with self._write() as conn:
            conn.execute(
                insert(t.projects).values(owner=owner, name=name, created_ns=time.time_ns())
            )
            conn.execute(insert(t.members).values(owner=owner, project=name, account=owner))

    def project_exists(self, owner: str, name: str) -> bool:
        with self.engine.connect() as conn:
            return (
                conn.execute(
                    select(t.projects.c.name).where(
                        t.projects.c.owner == owner, t.projects.c.name == name
                    )
                ).first()
                is not None
            )

    def account_exists(self, name: str) -> bool:
        with self.engine.connect() as conn:
            q = select(t.accounts.c.name).where(t.accounts.c.name == name)
            return conn.execute(q).first() is not None

    def add_member(self, owner: str, project: str, account: str) -> None:
        with self._write() as conn:
            self._insert_ignore(
                conn, t.members, [{"owner": owner, "project": project, "account": account}]
            )

    def projects(self, account: str | None = None) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            q = select(t.members.c.owner, t.members.c.project, t.members.c.account)
            if account is not None:
                mine = select(t.members.c.owner, t.members.c.project).where(
                    t.members.c.account == account
                )
                q = q.where(
                    t.members.c.owner.in_(mine.with_only_columns(t.members.c.owner)),
                    t.members.c.project.in_(mine.with_only_columns(t.members.c.project)),
                )
            rows = conn.execute(q.order_by(t.members.c.owner, t.members.c.project)).all()
        grouped: dict[str, list[str]] = {}
        for owner, project, member in rows:
            grouped.setdefault(f"{owner}/{project}", []).append(member)
        return [{"project": p, "members": sorted(m)} for p, m in grouped.items()]

    # -- push ------------------------------------------------------------

    def missing(self, ids: list[str], ns: str) -> list[str]:
        """Which of `ids` the namespace does not hold (negotiation)."""
        have: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in _chunks(ids):
                have.update(
                    conn.execute(
                        select(t.object_ns.c.object_id).where(
                            t.object_ns.c.ns == ns, t.object_ns.c.object_id.in_(chunk)
                        )
                    ).scalars()
                )
        return [i for i in ids if i not in have]

    def ref(self, ref_ns: str, name: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(  # type: ignore[no-any-return]
                select(t.refs.c.target).where(t.refs.c.ref_ns == ref_ns, t.refs.c.name == name)
            ).scalar()

    def apply_push(
        self,
        objs: list[VerifiedObject],
        dangling: set[str],
        where: Namespace,
        ref: RefUpdate | None,
    ) -> PushResult:
        """Store verified objects, index them and move the ref, in one transaction."""
        now = time.time_ns()
        by_id = {o.id: o for o in objs}
        with self._write() as conn:
            present = self._in_ns(conn, sorted(dangling), where.ns)
            if present != dangling:
                raise MissingReferences(
                    "objects point at ids neither pushed nor stored: "
                    + ", ".join(sorted(dangling - present)[:5])
                )
            if ref is not None:
                target = by_id.get(ref.new)
                if target is None and ref.new not in self._in_ns(conn, [ref.new], where.ns):
                    raise MissingReferences(f"ref target {ref.new} is not in the push or stored")
                if target is not None and target.kind != "session":
                    raise MissingReferences(f"ref target {ref.new} is not a session")
            already = self._in_ns(conn, list(by_id), where.ns)
            fresh = [o for o in objs if o.id not in already]
            self._insert_ignore(
                conn,
                t.objects,
                [
                    {"id": o.id, "kind": o.kind, "size": o.size, "frame": o.frame, "stored_ns": now}
                    for o in fresh
                ],
            )
            self._insert_ignore(
                conn,
                t.edges,
                [{"src": o.id, "dst": r} for o in fresh for r in set(o.obj.references())],
            )
            self._insert_ignore(
                conn,
                t.object_ns,
                [
                    {"object_id": o.id, "ns": where.ns, "public": where.public, "stored_ns": now}
                    for o in fresh
                ],
            )
            self._index(conn, fresh, where, now)
            if ref is not None:
                pushed = {o.id: o.obj.parent for o in objs if isinstance(o.obj, Session)}
                self._move_ref(conn, where, ref, pushed)
        return PushResult(len(fresh), len(objs) - len(fresh), ref)

    def _in_ns(self, conn: Connection, ids: list[str], ns: str) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(ids):
            found.update(
                conn.execute(
                    select(t.object_ns.c.object_id).where(
                        t.object_ns.c.ns == ns, t.object_ns.c.object_id.in_(chunk)
                    )
                ).scalars()
            )
        return found

    def _index(
        self, conn: Connection, objs: list[VerifiedObject], where: Namespace, now: int
    ) -> None:
        scope = {"ns": where.ns, "public": where.public}
        envs = {o.id: o.obj for o in objs if isinstance(o.obj, Env)}
        art_rows, job_rows, session_rows, label_rows, hashes = [], [], [], [], set()
        for o in objs:
            obj = o.obj
            if isinstance(obj, Job):
                for role, arts in (("in", obj.inputs), ("out", obj.outputs)):
                    for a in arts:
                        hashes.add(a.hash)
                        art_rows.append(
                            {
                                "hash": a.hash,
                                "job_id": o.id,
                                "role": role,
                                "path": _text(a.path),
                                "size": a.size,
                                "kind": a.kind,
                                **scope,
                            }
                        )
                job_rows.append(
                    {
                        "job_id": o.id,
                        "owner": where.owner,
                        "command": " ".join(_text(a) for a in obj.argv),
                        "type": obj.type,
                        "started_ns": obj.started_ns,
                        "ended_ns": obj.ended_ns,
                        "exit_code": obj.exit_code,
                        "gpu": self._gpu(conn, obj, envs),
                        **scope,
                    }
                )
            elif isinstance(obj, Session):
                session_rows.append(
                    {
                        "session_id": o.id,
                        "job_id": obj.job,
                        "parent": obj.parent,
                        "step": obj.step,
                        "time_ns": obj.time_ns,
                        **scope,
                    }
                )
            elif isinstance(obj, Label):
                for k, v in obj.labels.items():
                    label_rows.append(
                        {
                            "label_id": o.id,
                            "target": obj.target,
                            "key": k,
                            "value": str(v).lower() if isinstance(v, bool) else str(v),
                            "time_ns": obj.time_ns,
                            **scope,
                        }
                    )
        self._insert_ignore(conn, t.artifacts, [{"hash": h, "first_ns": now} for h in hashes])
        self._insert_ignore(conn, t.artifact_jobs, art_rows)
        self._insert_ignore(conn, t.jobs, job_rows)
        self._insert_ignore(conn, t.sessions, session_rows)
        self._insert_ignore(conn, t.labels, label_rows)

    def _gpu(self, conn: Connection, job: Job, envs: dict[str, Any]) -> str | None:
        env_id = job.context.get("env")
        if not isinstance(env_id, str):
            return None
        env = envs.get(env_id)
        if env is None:
            frame = conn.execute(select(t.objects.c.frame).where(t.objects.c.id == env_id)).scalar()
            if frame is None:
                return None
            from roar.objects import base

            env = base.parse(decompress_capped(frame, 1 << 26, env_id))
            envs[env_id] = env
        names = [g.get("name") for g in getattr(env, "gpus", ()) if isinstance(g, dict)]
        return ", ".join(n for n in names if n) or None

    def _move_ref(
        self, conn: Connection, where: Namespace, ref: RefUpdate, pushed: dict[str, str | None]
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
        chain = self._chain(conn, ref.new, where.ns, pushed)
        conn.execute(
            delete(t.ref_members).where(
                t.ref_members.c.ref_ns == where.ref_ns, t.ref_members.c.name == ref.name
            )
        )
        self._insert_ignore(
            conn,
            t.ref_members,
            [{"ref_ns": where.ref_ns, "name": ref.name, "session_id": s} for s in chain],
        )

    def _chain(
        self, conn: Connection, head: str, ns: str, pushed: dict[str, str | None]
    ) -> list[str]:
        """The session objects from `head` back to the first step."""
        chain: list[str] = []
        seen: set[str] = set()
        cur: str | None = head
        while cur is not None and cur not in seen:
            seen.add(cur)
            chain.append(cur)
            if cur in pushed:
                cur = pushed[cur]
                continue
            row = conn.execute(
                select(t.sessions.c.parent).where(
                    t.sessions.c.session_id == cur, t.sessions.c.ns == ns
                )
            ).first()
            cur = row[0] if row else None
        return chain

    # -- fetch -----------------------------------------------------------

    def visible_objects(self, conn: Connection, ids: Iterable[str], caller: Caller) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(list(ids)):
            found.update(
                conn.execute(
                    select(t.object_ns.c.object_id).where(
                        t.object_ns.c.object_id.in_(chunk), _visible(t.object_ns, caller)
                    )
                ).scalars()
            )
        return found

    def closure(self, want: str, have: set[str], caller: Caller) -> Closure:
        """Ids upstream of `want` that the caller may read, minus `have`."""
        with self.engine.connect() as conn:
            result: set[str] = set()
            jobs: set[str] = set()
            sessions: set[str] = set()
            if self.visible_objects(conn, [want], caller):
                kind = conn.execute(select(t.objects.c.kind).where(t.objects.c.id == want)).scalar()
                if kind == "job":
                    jobs.add(want)
                elif kind == "session":
                    sessions.add(want)
                else:
                    result.add(want)
            jobs |= self._producers(conn, {want}, caller)
            # Upstream: the jobs that wrote what these jobs read, transitively.
            frontier = set(jobs)
            while frontier:
                inputs = self._column(
                    conn, t.artifact_jobs, "hash", "job_id", frontier, caller, "in"
                )
                frontier = self._producers(conn, inputs, caller) - jobs
                jobs |= frontier
            # The sessions those jobs are steps of: whole chains, from the refs' heads.
            heads, refs = self._heads(conn, jobs, caller)
            sessions |= heads
            chain_jobs: set[str] = set()
            todo = set(sessions)
            while todo:
                rows = self._session_rows(conn, todo, caller)
                sessions |= todo
                chain_jobs |= {job for _, job, _ in rows}
                todo = {parent for _, _, parent in rows if parent} - sessions
            jobs |= chain_jobs
            result |= jobs | sessions
            result = self.visible_objects(conn, result, caller)
            # Everything those objects point at (env, patch, trees), transitively.
            frontier = set(result)
            while frontier:
                dst = self._column(conn, t.edges, "dst", "src", frontier, None, None)
                frontier = self.visible_objects(conn, dst - result, caller)
                result |= frontier
            result |= self._labels(conn, result | self._artifact_hashes(conn, jobs, caller), caller)
        return Closure(sorted(result - have), refs, len(result))

    def _column(
        self,
        conn: Connection,
        table: Any,
        out: str,
        key: str,
        values: set[str],
        caller: Caller | None,
        role: str | None,
    ) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(sorted(values)):
            q = select(table.c[out]).where(table.c[key].in_(chunk))
            if caller is not None:
                q = q.where(_visible(table, caller))
            if role is not None:
                q = q.where(table.c.role == role)
            found.update(conn.execute(q).scalars())
        return found

    def _producers(self, conn: Connection, hashes: set[str], caller: Caller) -> set[str]:
        return self._column(conn, t.artifact_jobs, "job_id", "hash", hashes, caller, "out")

    def _artifact_hashes(self, conn: Connection, jobs: set[str], caller: Caller) -> set[str]:
        return self._column(conn, t.artifact_jobs, "hash", "job_id", jobs, caller, None)

    def _session_rows(
        self, conn: Connection, ids: set[str], caller: Caller
    ) -> list[tuple[str, str, str | None]]:
        rows = []
        for chunk in _chunks(sorted(ids)):
            rows.extend(
                conn.execute(
                    select(t.sessions.c.session_id, t.sessions.c.job_id, t.sessions.c.parent).where(
                        t.sessions.c.session_id.in_(chunk), _visible(t.sessions, caller)
                    )
                ).all()
            )
        return [tuple(r) for r in rows]  # type: ignore[misc]

    def _heads(
        self, conn: Connection, jobs: set[str], caller: Caller
    ) -> tuple[set[str], list[dict[str, str]]]:
        """Session heads holding `jobs`: refs' targets, else the steps themselves."""
        steps = self._column(conn, t.sessions, "session_id", "job_id", jobs, caller, None)
        heads: set[str] = set()
        refs: list[dict[str, str]] = []
        covered: set[str] = set()
        for chunk in _chunks(sorted(steps)):
            rows = conn.execute(
                select(t.refs.c.name, t.refs.c.target, t.refs.c.ref_ns, t.ref_members.c.session_id)
                .select_from(
                    t.ref_members.join(
                        t.refs,
                        and_(
                            t.refs.c.ref_ns == t.ref_members.c.ref_ns,
                            t.refs.c.name == t.ref_members.c.name,
                        ),
                    )
                )
                .where(t.ref_members.c.session_id.in_(chunk), _visible(t.refs, caller))
            ).all()
            for name, target, ref_ns, member in rows:
                covered.add(member)
                if target not in heads:
                    heads.add(target)
                    refs.append({"name": name, "target": target, "namespace": ref_ns})
        return heads | (steps - covered), refs

    def _labels(self, conn: Connection, targets: set[str], caller: Caller) -> set[str]:
        return self._column(conn, t.labels, "label_id", "target", targets, caller, None)

    def frames(self, ids: list[str]) -> Iterator[tuple[str, bytes]]:
        with self.engine.connect() as conn:
            for chunk in _chunks(ids):
                yield from conn.execute(
                    select(t.objects.c.id, t.objects.c.frame).where(t.objects.c.id.in_(chunk))
                ).all()

    # -- lookup and search ----------------------------------------------

    def lookup(self, digest: str, caller: Caller) -> dict[str, Any] | None:
        """What the registry knows of a hash that the caller may see, or None."""
        with self.engine.connect() as conn:
            # One round trip for "is it a registered artifact" and "a visible object".
            first, kind = conn.execute(
                select(
                    select(t.artifacts.c.first_ns)
                    .where(t.artifacts.c.hash == digest)
                    .scalar_subquery(),
                    select(t.objects.c.kind)
                    .join(t.object_ns, t.object_ns.c.object_id == t.objects.c.id)
                    .where(t.objects.c.id == digest, _visible(t.object_ns, caller))
                    .limit(1)
                    .scalar_subquery(),
                )
            ).one()
            if first is None and kind is None:
                return None
            out: dict[str, Any] = {"hash": digest, "object_kind": kind}
            if first is not None:
                out["artifact"] = {"registered_ns": first, **self._artifact(conn, digest, caller)}
            if kind == "job":
                out["job"] = self._job(conn, digest, caller)
            elif kind == "session":
                row = conn.execute(
                    select(t.sessions).where(
                        t.sessions.c.session_id == digest, _visible(t.sessions, caller)
                    )
                ).first()
                if row is not None:
                    out["session"] = {
                        "job": row.job_id,
                        "parent": row.parent,
                        "step": row.step,
                        "time_ns": row.time_ns,
                    }
            out["labels"] = self._current_labels(conn, digest, caller)
        return out

    def _artifact(self, conn: Connection, digest: str, caller: Caller) -> dict[str, Any]:
        aj, sj = t.artifact_jobs, t.sessions
        rows = conn.execute(
            select(aj.c.job_id, aj.c.role, aj.c.path, aj.c.size, aj.c.kind, sj.c.session_id)
            .select_from(aj.outerjoin(sj, and_(sj.c.job_id == aj.c.job_id, _visible(sj, caller))))
            .where(aj.c.hash == digest, _visible(aj, caller))
        ).all()
        entries: dict[tuple[str, str, str], dict[str, Any]] = {}
        for r in rows:
            entry = entries.setdefault(
                (r.role, r.job_id, r.path),
                {"job": r.job_id, "path": r.path, "size": r.size, "kind": r.kind, "sessions": []},
            )
            if r.session_id is not None and r.session_id not in entry["sessions"]:
                entry["sessions"].append(r.session_id)
        return {
            "produced_by": [e for (role, _, _), e in entries.items() if role == "out"],
            "consumed_by": [e for (role, _, _), e in entries.items() if role == "in"],
        }

    def _sessions_of(
        self, conn: Connection, job_ids: list[str], caller: Caller
    ) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        if not job_ids:
            return out
        rows = conn.execute(
            select(t.sessions.c.job_id, t.sessions.c.session_id).where(
                t.sessions.c.job_id.in_(job_ids), _visible(t.sessions, caller)
            )
        ).all()
        for job, session in rows:
            out.setdefault(job, []).append(session)
        return out

    def _job(self, conn: Connection, job_id: str, caller: Caller) -> dict[str, Any] | None:
        row = conn.execute(
            select(t.jobs).where(t.jobs.c.job_id == job_id, _visible(t.jobs, caller))
        ).first()
        if row is None:
            return None
        arts = conn.execute(
            select(t.artifact_jobs.c.hash, t.artifact_jobs.c.role, t.artifact_jobs.c.path).where(
                t.artifact_jobs.c.job_id == job_id, _visible(t.artifact_jobs, caller)
            )
        ).all()
        return {
            "command": row.command,
            "type": row.type,
            "owner": row.owner,
            "started_ns": row.started_ns,
            "ended_ns": row.ended_ns,
            "exit_code": row.exit_code,
            "gpu": row.gpu,
            "inputs": sorted({(a.path, a.hash) for a in arts if a.role == "in"}),
            "outputs": sorted({(a.path, a.hash) for a in arts if a.role == "out"}),
            "sessions": self._sessions_of(conn, [job_id], caller).get(job_id, []),
        }

    def _current_labels(self, conn: Connection, target: str, caller: Caller) -> dict[str, str]:
        rows = conn.execute(
            select(t.labels.c.label_id, t.labels.c.key, t.labels.c.value, t.labels.c.time_ns)
            .where(t.labels.c.target == target, _visible(t.labels, caller))
            .order_by(t.labels.c.time_ns)
        ).all()
        if not rows:
            return {}
        newest = rows[-1].label_id  # a label object holds the full set after its change
        return {r.key: r.value for r in rows if r.label_id == newest}

    def search(self, caller: Caller, filters: dict[str, Any], limit: int) -> list[dict[str, Any]]:
        q = select(t.jobs).where(_visible(t.jobs, caller))
        if filters.get("command"):
            q = q.where(t.jobs.c.command.contains(filters["command"], autoescape=True))
        if filters.get("gpu") is not None:
            gpu = filters["gpu"]
            if gpu in ("true", "yes", "1"):
                q = q.where(t.jobs.c.gpu.is_not(None))
            elif gpu in ("false", "no", "0"):
                q = q.where(t.jobs.c.gpu.is_(None))
            else:
                q = q.where(t.jobs.c.gpu.contains(gpu, autoescape=True))
        if filters.get("owner"):
            q = q.where(t.jobs.c.owner == filters["owner"])
        if filters.get("since") is not None:
            q = q.where(t.jobs.c.started_ns >= filters["since"])
        if filters.get("until") is not None:
            q = q.where(t.jobs.c.started_ns <= filters["until"])
        if filters.get("file"):
            q = q.where(
                t.jobs.c.job_id.in_(
                    select(t.artifact_jobs.c.job_id).where(
                        t.artifact_jobs.c.path.contains(filters["file"], autoescape=True),
                        _visible(t.artifact_jobs, caller),
                    )
                )
            )
        if filters.get("file_type"):
            ext = "." + filters["file_type"].lstrip(".")
            q = q.where(
                t.jobs.c.job_id.in_(
                    select(t.artifact_jobs.c.job_id).where(
                        t.artifact_jobs.c.path.endswith(ext, autoescape=True),
                        _visible(t.artifact_jobs, caller),
                    )
                )
            )
        if filters.get("label"):
            key, _, value = filters["label"].partition("=")
            cond = t.labels.c.key == key
            if value:
                cond = and_(cond, t.labels.c.value == value)
            q = q.where(
                t.jobs.c.job_id.in_(
                    select(t.labels.c.target).where(cond, _visible(t.labels, caller))
                )
            )
        q = q.order_by(t.jobs.c.started_ns.desc()).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        seen, out = set(), []
        for r in rows:
            if r.job_id in seen:
                continue
            seen.add(r.job_id)
            out.append(
                {
                    "job": r.job_id,
                    "command": r.command,
                    "owner": r.owner,
                    "started_ns": r.started_ns,
                    "exit_code": r.exit_code,
                    "gpu": r.gpu,
                }
            )
        return out

    # -- web pages -------------------------------------------------------
    # Batched reads the pages and their JSON twins need (roar/server/web/);
    # every one filters by what the caller may see.

    def read_objects(self, ids: Iterable[str], caller: Caller) -> dict[str, Any]:
        """Parsed objects among `ids` that the caller may read."""
        from roar.objects import base

        out: dict[str, Any] = {}
        with self.engine.connect() as conn:
            visible = sorted(self.visible_objects(conn, ids, caller))
            for chunk in _chunks(visible):
                rows = conn.execute(
                    select(t.objects.c.id, t.objects.c.frame).where(t.objects.c.id.in_(chunk))
                ).all()
                for oid, frame in rows:
                    out[oid] = base.parse(decompress_capped(bytes(frame), 1 << 26, oid))
        return out

    def upstream_hashes(
        self, hashes: list[str], jobs: list[str], caller: Caller, limit: int
    ) -> list[str]:
        """Artifacts upstream of `hashes` and of `jobs`' inputs, themselves included.

        One recursive query (artifact -> its producer's inputs), so a lineage
        500 levels deep costs one round trip, not a thousand.
        """
        aj = t.artifact_jobs
        o, i = aj.alias("o"), aj.alias("i")
        seed = select(aj.c.hash.label("hash")).where(
            or_(aj.c.hash.in_(hashes), and_(aj.c.job_id.in_(jobs), aj.c.role == "in")),
            _visible(aj, caller),
        )
        up = seed.cte("up", recursive=True)
        up = up.union(
            select(i.c.hash)
            .select_from(up.join(o, o.c.hash == up.c.hash).join(i, i.c.job_id == o.c.job_id))
            .where(o.c.role == "out", i.c.role == "in", _visible(o, caller), _visible(i, caller))
        )
        with self.engine.connect() as conn:
            return list(conn.execute(select(up.c.hash).limit(limit)).scalars())

    def producers_of(self, hashes: Iterable[str], caller: Caller) -> list[tuple[str, str]]:
        """(artifact hash, job id) for every visible job that wrote one of `hashes`."""
        aj = t.artifact_jobs
        found: set[tuple[str, str]] = set()
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(hashes))):
                found.update(
                    conn.execute(
                        select(aj.c.hash, aj.c.job_id).where(
                            aj.c.hash.in_(chunk), aj.c.role == "out", _visible(aj, caller)
                        )
                    ).all()
                )
        return sorted(found)  # type: ignore[arg-type]

    def job_artifacts(self, job_ids: Iterable[str], caller: Caller) -> list[dict[str, Any]]:
        """The visible inputs and outputs of jobs: job, role, hash, path, size, kind."""
        aj = t.artifact_jobs
        rows: set[tuple[Any, ...]] = set()
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(job_ids))):
                rows.update(
                    conn.execute(
                        select(
                            aj.c.job_id, aj.c.role, aj.c.hash, aj.c.path, aj.c.size, aj.c.kind
                        ).where(aj.c.job_id.in_(chunk), _visible(aj, caller))
                    ).all()
                )
        keys = ("job", "role", "hash", "path", "size", "kind")
        return [dict(zip(keys, r, strict=True)) for r in sorted(rows)]

    def job_rows(self, job_ids: Iterable[str], caller: Caller) -> dict[str, dict[str, Any]]:
        """Index rows of visible jobs (command, owner, times, exit code, GPU)."""
        out: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(job_ids))):
                for r in conn.execute(
                    select(t.jobs).where(t.jobs.c.job_id.in_(chunk), _visible(t.jobs, caller))
                ).all():
                    out.setdefault(r.job_id, dict(r._mapping))
        return out

    def latest_producer(
        self, digest: str, caller: Caller, before_ns: int | None = None
    ) -> str | None:
        """The visible job that last wrote `digest` (ending by `before_ns`, if given)."""
        aj = t.artifact_jobs
        q = (
            select(t.jobs.c.job_id)
            .join(aj, aj.c.job_id == t.jobs.c.job_id)
            .where(aj.c.hash == digest, aj.c.role == "out")
            .where(_visible(aj, caller), _visible(t.jobs, caller))
            .order_by(t.jobs.c.ended_ns.desc())
            .limit(1)
        )
        if before_ns is not None:
            q = q.where(t.jobs.c.ended_ns <= before_ns)
        with self.engine.connect() as conn:
            return conn.execute(q).scalar()  # type: ignore[no-any-return]

    def steps_of(self, job_ids: Iterable[str], caller: Caller) -> list[dict[str, Any]]:
        """Session steps that ran these jobs, with the head of a ref holding each step."""
        s, rm, r = t.sessions, t.ref_members, t.refs
        out: list[dict[str, Any]] = []
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(job_ids))):
                rows = conn.execute(
                    select(s.c.job_id, s.c.session_id, s.c.step, r.c.target, r.c.name)
                    .select_from(
                        s.outerjoin(rm, rm.c.session_id == s.c.session_id).outerjoin(
                            r,
                            and_(
                                r.c.ref_ns == rm.c.ref_ns,
                                r.c.name == rm.c.name,
                                _visible(r, caller),
                            ),
                        )
                    )
                    .where(s.c.job_id.in_(chunk), _visible(s, caller))
                ).all()
                seen: set[tuple[str, str]] = set()
                for job, session, step, head, name in rows:
                    if (job, session) in seen and head is None:
                        continue
                    seen.add((job, session))
                    out.append(
                        {"job": job, "session": session, "step": step, "head": head, "ref": name}
                    )
        return out

    def resolve_prefix(self, prefix: str, caller: Caller, limit: int = 20) -> list[dict[str, str]]:
        """Registered artifacts and visible objects whose hash starts with `prefix`."""
        like = prefix.lower() + "%"
        with self.engine.connect() as conn:
            arts = conn.execute(
                select(t.artifacts.c.hash).where(t.artifacts.c.hash.like(like)).limit(limit)
            ).scalars()
            found = {h: "artifact" for h in arts}
            objs = conn.execute(
                select(t.objects.c.id, t.objects.c.kind)
                .join(t.object_ns, t.object_ns.c.object_id == t.objects.c.id)
                .where(t.objects.c.id.like(like), _visible(t.object_ns, caller))
                .where(t.objects.c.kind.in_(("job", "session")))
                .limit(limit)
            ).all()
        for oid, kind in objs:
            found[oid] = kind
        return [{"hash": h, "kind": k} for h, k in sorted(found.items())][:limit]

    def recent_sessions(self, caller: Caller, limit: int = 20) -> list[dict[str, Any]]:
        """Heads of the visible session refs, newest step first."""
        r, s = t.refs, t.sessions
        q = (
            select(r.c.name, r.c.ref_ns, r.c.target, r.c.public, s.c.step, s.c.time_ns, s.c.job_id)
            .join(s, and_(s.c.session_id == r.c.target, s.c.ns == r.c.ns))
            .where(_visible(r, caller))
            .order_by(s.c.time_ns.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [
            {
                "session": row.target,
                "ref": row.name,
                "namespace": row.ref_ns,
                "public": bool(row.public),
                "steps": row.step,
                "time_ns": row.time_ns,
                "last_job": row.job_id,
            }
            for row in rows
        ]

    def add_web_login(self, digest: str, kind: str, account: str, expires_ns: int) -> None:
        now = time.time_ns()
        with self._write() as conn:
            conn.execute(delete(t.web_logins).where(t.web_logins.c.expires_ns < now))
            conn.execute(
                insert(t.web_logins).values(
                    digest=digest, kind=kind, account=account, expires_ns=expires_ns
                )
            )

    def web_login(self, digest: str, kind: str, *, consume: bool = False) -> str | None:
        """The account of an unexpired link or cookie; a consumed link works once."""
        wl = t.web_logins
        key = and_(wl.c.digest == digest, wl.c.kind == kind, wl.c.expires_ns > time.time_ns())
        if not consume:
            with self.engine.connect() as conn:
                return conn.execute(select(wl.c.account).where(key)).scalar()  # type: ignore[no-any-return]
        # One DELETE ... RETURNING: of two concurrent redeemers, only one gets a row.
        with self._write() as conn:
            return conn.execute(delete(wl).where(key).returning(wl.c.account)).scalar()  # type: ignore[no-any-return]

    def drop_web_login(self, digest: str) -> None:
        with self._write() as conn:
            conn.execute(delete(t.web_logins).where(t.web_logins.c.digest == digest))

    def stats(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {
                name: conn.execute(select(func.count()).select_from(table)).scalar() or 0
                for name, table in (
                    ("objects", t.objects),
                    ("object_ns", t.object_ns),
                    ("artifacts", t.artifacts),
                    ("artifact_jobs", t.artifact_jobs),
                    ("jobs", t.jobs),
                    ("sessions", t.sessions),
                    ("labels", t.labels),
                    ("refs", t.refs),
                    ("accounts", t.accounts),
                    ("projects", t.projects),
                )
            }


def _engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _: Any) -> None:
        # Let SQLAlchemy's begin event issue BEGIN itself (pysqlite's own is deferred only).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        # Lookups touch a few random B-tree pages each: keep hot pages in the
        # process and map the file so a million-artifact index reads without syscalls.
        cur.execute("PRAGMA cache_size=-65536")
        cur.execute("PRAGMA mmap_size=4294967296")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # A write takes the lock up front: two deferred readers that both try to
        # upgrade would deadlock and SQLite would fail one without waiting.
        conn.exec_driver_sql(
            "BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN"
        )

    return engine


__all__ = ["Storage", "RefUpdate", "RefMoved", "MissingReferences", "PushResult", "Closure"]
