"""Lookup of any hash and search of jobs, over the index rows the caller may see."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Connection,
    LargeBinary,
    and_,
    bindparam,
    cast,
    literal,
    null,
    select,
    union_all,
)

from roar.server import schema as t
from roar.server.scope import Caller
from roar.server.storage.database import (
    Database,
    bytes_contain,
    bytes_end,
    reading,
    visible,
    visible_to,
)
from roar.server.storage.records import (
    ArtifactEntry,
    ArtifactInfo,
    JobHit,
    JobInfo,
    Lookup,
    SearchFilters,
    SessionInfo,
)


class Lookups:
    def __init__(self, db: Database):
        self.db = db

    def hash(self, digest: str, caller: Caller) -> Lookup | None:
        """What the registry knows of a hash that the caller may see, or None."""
        with self.db.read() as conn:
            # One round trip for "is it a registered artifact" and "a visible object".
            first, member, kind = conn.execute(_HEAD, reading(caller, digest=digest)).one()
            if first is None and member is None and kind is None:
                return None
            known = first is not None or member is not None  # registered, or inside a composite
            artifact = _artifact(conn, digest, first, caller) if known else None
            job = _job(conn, digest, caller) if kind == "job" else None
            session = _session(conn, digest, caller) if kind == "session" else None
            return Lookup(digest, kind, artifact, job, session, labels_of(conn, digest, caller))

    def digests(self, digest: str, caller: Caller) -> dict[str, str]:
        """{"blake3": digest, and each other digest (md5, sha256, sha512) a job the
        caller may see recorded for these bytes}."""
        d = t.artifact_digests
        q = select(d.c.algorithm, d.c.digest).where(d.c.hash == digest, visible(d, caller))
        with self.db.read() as conn:
            rows = conn.execute(q.distinct().order_by(d.c.algorithm, d.c.digest)).all()
        return {"blake3": digest, **{algorithm: value for algorithm, value in rows}}

    def search(self, caller: Caller, f: SearchFilters, limit: int) -> list[JobHit]:
        j, aj = t.jobs, t.artifact_jobs
        q = select(
            j.c.job_id, j.c.command, j.c.owner, j.c.started_ns, j.c.exit_code, j.c.gpu
        ).where(visible(j, caller))
        if f.command:
            q = q.where(j.c.command.contains(f.command, autoescape=True))
        if f.gpu is not None:
            if f.gpu in ("true", "yes", "1"):
                q = q.where(j.c.gpu.is_not(None))
            elif f.gpu in ("false", "no", "0"):
                q = q.where(j.c.gpu.is_(None))
            else:
                q = q.where(j.c.gpu.contains(f.gpu, autoescape=True))
        if f.owner:
            q = q.where(j.c.owner == f.owner)
        if f.since is not None:
            q = q.where(j.c.started_ns >= f.since)
        if f.until is not None:
            q = q.where(j.c.started_ns <= f.until)
        if f.file:
            q = q.where(
                j.c.job_id.in_(
                    select(aj.c.job_id).where(bytes_contain(aj.c.path, f.file), visible(aj, caller))
                )
            )
        if f.file_type:
            ext = b"." + f.file_type.lstrip(".").encode("utf-8", "surrogateescape")
            q = q.where(
                j.c.job_id.in_(
                    select(aj.c.job_id).where(bytes_end(aj.c.path, ext), visible(aj, caller))
                )
            )
        if f.label:
            key, _, value = f.label.partition("=")
            cond = t.labels.c.key == key
            if value:
                cond = and_(cond, t.labels.c.value == value)
            q = q.where(
                j.c.job_id.in_(select(t.labels.c.target).where(cond, visible(t.labels, caller)))
            )
        q = q.order_by(j.c.started_ns.desc()).limit(limit)
        with self.db.read() as conn:
            rows = conn.execute(q).all()
        seen: set[str] = set()
        out = []
        for r in rows:
            if r[0] not in seen:
                seen.add(r[0])
                out.append(JobHit(*r))
        return out


def labels_of(conn: Connection, target: str, caller: Caller) -> dict[str, str]:
    """The current labels on `target`: those of its newest visible label object."""
    rows = conn.execute(_LABELS, reading(caller, digest=target)).all()
    if not rows:
        return {}
    newest = rows[-1].label_id  # a label object holds the full set after its change
    return {r.key: r.value for r in rows if r.label_id == newest}


def _artifact(conn: Connection, digest: str, first: int | None, caller: Caller) -> ArtifactInfo:
    """Who read and wrote `digest`, as a file or inside a composite (docs/lineage.md §4)."""
    rows = conn.execute(_USES, reading(caller, digest=digest)).all()
    entries: dict[tuple[str, str, bytes], ArtifactEntry] = {}
    for r in rows:
        # A composite member is named by the composite's path, then the file's.
        path = r.path if r.member is None else r.path + b"/" + r.member
        entry = entries.setdefault(
            (r.role, r.job_id, path), ArtifactEntry(r.job_id, path, r.size, r.kind)
        )
        if r.session_id is not None and r.session_id not in entry.sessions:
            entry.sessions.append(r.session_id)
    return ArtifactInfo(
        registered_ns=first,
        produced_by=[e for (role, _, _), e in entries.items() if role == "out"],
        consumed_by=[e for (role, _, _), e in entries.items() if role == "in"],
    )


# The lookup's statements, built once (database.visible_to); `digest` is the hash.
_DIGEST = bindparam("digest")


def _head_statement() -> Any:
    """One round trip: a registered artifact? inside a composite? a visible object?"""
    return select(
        select(t.artifacts.c.first_ns).where(t.artifacts.c.hash == _DIGEST).scalar_subquery(),
        select(t.tree_entries.c.tree)
        .where(t.tree_entries.c.hash == _DIGEST)
        .limit(1)
        .scalar_subquery(),
        select(t.objects.c.kind)
        .join(t.object_ns, t.object_ns.c.object_id == t.objects.c.id)
        .where(t.objects.c.id == _DIGEST, visible_to(t.object_ns))
        .limit(1)
        .scalar_subquery(),
    )


def _uses_statement() -> Any:
    """Visible reads and writes of the hash, as a file or inside a composite, each
    with the sessions that ran the job."""
    aj, sj, te = t.artifact_jobs, t.sessions, t.tree_entries
    # The member's path is joined to the composite's here, not in SQL: SQLite's `||`
    # makes text of BLOBs, and a path that is not UTF-8 would not come back.
    cols = (aj.c.job_id, aj.c.role, aj.c.path)
    uses = union_all(
        select(*cols, cast(null(), LargeBinary).label("member"), aj.c.size, aj.c.kind).where(
            aj.c.hash == _DIGEST, visible_to(aj)
        ),
        select(*cols, te.c.path.label("member"), te.c.size, literal("file"))
        .join(aj, aj.c.hash == te.c.tree)
        .where(te.c.hash == _DIGEST, visible_to(aj)),
    ).subquery()
    return select(uses, sj.c.session_id).select_from(
        uses.outerjoin(sj, and_(sj.c.job_id == uses.c.job_id, visible_to(sj)))
    )


_HEAD, _USES = _head_statement(), _uses_statement()
_LABELS = (
    select(t.labels.c.label_id, t.labels.c.key, t.labels.c.value, t.labels.c.time_ns)
    .where(t.labels.c.target == _DIGEST, visible_to(t.labels))
    .order_by(t.labels.c.time_ns)
)


def _job(conn: Connection, job_id: str, caller: Caller) -> JobInfo | None:
    row = conn.execute(
        select(t.jobs).where(t.jobs.c.job_id == job_id, visible(t.jobs, caller))
    ).first()
    if row is None:
        return None
    aj = t.artifact_jobs
    arts = conn.execute(
        select(aj.c.hash, aj.c.role, aj.c.path).where(aj.c.job_id == job_id, visible(aj, caller))
    ).all()
    sessions = conn.execute(
        select(t.sessions.c.session_id).where(
            t.sessions.c.job_id == job_id, visible(t.sessions, caller)
        )
    ).scalars()
    return JobInfo(
        command=row.command,
        type=row.type,
        owner=row.owner,
        started_ns=row.started_ns,
        ended_ns=row.ended_ns,
        exit_code=row.exit_code,
        gpu=row.gpu,
        inputs=sorted({(a.path, a.hash) for a in arts if a.role == "in"}),
        outputs=sorted({(a.path, a.hash) for a in arts if a.role == "out"}),
        sessions=list(sessions),
    )


def _session(conn: Connection, session_id: str, caller: Caller) -> SessionInfo | None:
    row = conn.execute(
        select(t.sessions).where(t.sessions.c.session_id == session_id, visible(t.sessions, caller))
    ).first()
    if row is None:
        return None
    return SessionInfo(row.job_id, row.parent, row.step, row.time_ns)
