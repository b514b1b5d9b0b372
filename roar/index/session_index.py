"""A SQLite cache of session chains, their jobs and DAG edges.

The source of truth stays the objects and refs. Every query first brings
the cache up to the session ref's head: new steps are appended (their DAG
edges computed as they arrive, from a per-session "who last wrote this
hash" table), a ref moved back (`roar pop`) truncates, anything else
rebuilds. The file can be deleted at any time. Jobs are cached without
their context; views of a single job read the object itself.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from roar.display import printable
from roar.objects.job import ArtifactRef, Job
from roar.objects.session import Session
from roar.sessions import Step
from roar.workspace import Workspace

SCHEMA_VERSION = "7"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS heads (
    ref TEXT PRIMARY KEY, head TEXT NOT NULL, length INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS steps (
    ref TEXT NOT NULL, seq INTEGER NOT NULL, session_object TEXT NOT NULL, job TEXT NOT NULL,
    step INTEGER NOT NULL, step_kind TEXT NOT NULL, supersedes TEXT, time_ns INTEGER NOT NULL,
    label TEXT NOT NULL, command TEXT NOT NULL, exit_code INTEGER NOT NULL,
    duration_ns INTEGER NOT NULL, time_text TEXT NOT NULL, superseded INTEGER NOT NULL,
    parents TEXT NOT NULL, line TEXT NOT NULL,
    PRIMARY KEY (ref, seq));
CREATE INDEX IF NOT EXISTS steps_by_object ON steps (ref, session_object);
CREATE INDEX IF NOT EXISTS steps_by_step ON steps (ref, step_kind, step, seq);
CREATE INDEX IF NOT EXISTS steps_by_job ON steps (job, ref);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, type TEXT NOT NULL, argv BLOB NOT NULL, cwd BLOB NOT NULL,
    started_ns INTEGER NOT NULL, ended_ns INTEGER NOT NULL, exit_code INTEGER NOT NULL,
    signal INTEGER, interrupted INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS artifacts (
    job TEXT NOT NULL, role TEXT NOT NULL, path BLOB NOT NULL, hash TEXT NOT NULL,
    size INTEGER NOT NULL, kind TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS artifacts_by_job ON artifacts (job);
CREATE INDEX IF NOT EXISTS artifacts_by_hash ON artifacts (hash);
CREATE TABLE IF NOT EXISTS tree_entries (tree TEXT NOT NULL, hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS tree_entries_by_tree ON tree_entries (tree);
CREATE INDEX IF NOT EXISTS tree_entries_by_hash ON tree_entries (hash);
CREATE TABLE IF NOT EXISTS producers (
    ref TEXT NOT NULL, hash TEXT NOT NULL, label TEXT NOT NULL, PRIMARY KEY (ref, hash));
"""

# The log is stored ready to print (denormalized): `roar log` on a
# 10,000-step session is then one indexed scan.
_LOG_QUERY = """
SELECT seq, label, job, command, exit_code, duration_ns, time_ns, time_text, superseded, parents
FROM steps WHERE ref = ? ORDER BY seq
"""


def step_label(step: int, step_kind: str) -> str:
    return f"@B{step}" if step_kind == "build" else f"@{step}"


def _display(argv: Iterable[bytes]) -> str:
    return " ".join(a.decode("utf-8", "replace") for a in argv)


def _pack_argv(argv: Iterable[bytes]) -> bytes:
    return b"\0".join(argv)


def unpack_argv(blob: bytes) -> tuple[bytes, ...]:
    return tuple(blob.split(b"\0")) if blob else ()


class LogRow(NamedTuple):
    """One step as `log` and `dag` show it (a tuple: 10,000 of them are cheap)."""

    seq: int
    label: str
    job: str
    command: str
    exit_code: int
    duration_ns: int
    time_ns: int
    when: str
    superseded: int
    parents: str  # comma-separated labels of the steps it read from

    @property
    def parent_labels(self) -> list[str]:
        return self.parents.split(",") if self.parents else []


class Counts(NamedTuple):
    steps: int  # live steps (superseded executions excluded)
    jobs: int  # every recorded execution
    builds: int  # live build steps
    last_label: str | None
    last_time: str | None


class SessionIndex:
    def __init__(self, ws: Workspace):
        self.ws = ws
        self.path = ws.dir / "index.sqlite"
        self.db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute("PRAGMA synchronous=OFF")  # a cache: a lost write is rebuilt
        try:  # the common case: an index of this version exists, nothing to create
            row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is not None and row[0] == SCHEMA_VERSION:
                return db
        except sqlite3.OperationalError:
            pass
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(SCHEMA)
        row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is None:
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        elif row[0] != SCHEMA_VERSION:
            db.close()
            os.unlink(self.path)
            return self._open()
        return db

    def close(self) -> None:
        self.db.close()

    # -- keeping up with the refs ---------------------------------------

    def _seq_of(self, ref: str, session_object: str) -> int | None:
        row = self.db.execute(
            "SELECT seq FROM steps WHERE ref=? AND session_object=?", (ref, session_object)
        ).fetchone()
        return None if row is None else int(row[0])

    def sync(self, ref: str) -> None:
        head = self.ws.refs.read(ref)
        row = self.db.execute("SELECT head, length FROM heads WHERE ref=?", (ref,)).fetchone()
        if row is not None and row[0] == head:
            return
        new: list[tuple[str, Session]] = []
        cur, base = head, None
        while cur is not None:
            base = self._seq_of(ref, cur)
            if base is not None:
                break
            obj = self.ws.objects.read(cur)
            assert isinstance(obj, Session)
            new.append((cur, obj))
            cur = obj.parent
        self.db.execute("BEGIN IMMEDIATE")
        try:
            length = row[1] if row else 0
            if base is None:
                self._forget(ref, keep=0)
                length = 0
            elif base + 1 < length:  # moved back to an ancestor: `roar pop`
                self._forget(ref, keep=base + 1)
                length = base + 1
            for oid, obj in reversed(new):
                self._append(ref, length, oid, obj)
                length += 1
            if head is None:
                self.db.execute("DELETE FROM heads WHERE ref=?", (ref,))
            else:
                self.db.execute("INSERT OR REPLACE INTO heads VALUES (?,?,?)", (ref, head, length))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _forget(self, ref: str, keep: int) -> None:
        """Drop steps from seq `keep` on, and recompute who produced what."""
        self.db.execute("DELETE FROM steps WHERE ref=? AND seq>=?", (ref, keep))
        self.db.execute(
            "UPDATE steps SET superseded = EXISTS (SELECT 1 FROM steps t WHERE t.ref = steps.ref "
            "AND t.step_kind = steps.step_kind AND t.step = steps.step AND t.seq > steps.seq) "
            "WHERE ref=?",
            (ref,),
        )
        self.db.execute("DELETE FROM producers WHERE ref=?", (ref,))
        rows = self.db.execute(
            "SELECT s.step, s.step_kind, a.hash, a.kind FROM steps s "
            "JOIN artifacts a ON a.job = s.job AND a.role = 'out' WHERE s.ref=? ORDER BY s.seq",
            (ref,),
        ).fetchall()
        for step, kind, digest, art_kind in rows:
            self._produced(ref, step_label(step, kind), digest, art_kind)

    def _produced(self, ref: str, label: str, digest: str, art_kind: str) -> None:
        hashes = [digest]
        if art_kind == "tree":
            hashes += [m for m in self.tree_members(digest) if m != digest]
        self.db.executemany(
            "INSERT OR REPLACE INTO producers VALUES (?,?,?)", [(ref, h, label) for h in hashes]
        )

    def _append(self, ref: str, seq: int, oid: str, obj: Session) -> None:
        job = self._index_job(obj.job)
        label = step_label(obj.step, obj.step_kind)
        # A re-run of a step supersedes every earlier execution of it.
        self.db.execute(
            "UPDATE steps SET superseded=1 WHERE ref=? AND step_kind=? AND step=?",
            (ref, obj.step_kind, obj.step),
        )
        # Edges are decided now, from who last wrote each hash read.
        parents: list[str] = []
        for art in job.inputs:
            hit = self.db.execute(
                "SELECT label FROM producers WHERE ref=? AND hash=?", (ref, art.hash)
            ).fetchone()
            if hit and hit[0] != label and hit[0] not in parents:
                parents.append(hit[0])
        command = _display(job.argv)
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(obj.time_ns / 1e9))
        exit_note = "" if job.exit_code == 0 else f"  exit {job.exit_code}"
        line = f"{label:>5}  {obj.job[:12]}  {when}  {printable(command)}{exit_note}"
        self.db.execute(
            "INSERT OR REPLACE INTO steps VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,0,?,?)",
            (ref, seq, oid, obj.job, obj.step, obj.step_kind, obj.supersedes, obj.time_ns, label,
             command, job.exit_code, job.duration_ns, when, ",".join(parents), line),
        )  # fmt: skip
        for art in job.outputs:
            self._produced(ref, label, art.hash, art.kind)

    def _index_job(self, oid: str) -> Job:
        known = self.jobs([oid], read_missing=False)
        if oid in known:
            return known[oid]
        job = self.ws.objects.read(oid)
        assert isinstance(job, Job)
        self.db.execute(
            "INSERT INTO jobs VALUES (?,?,?,?,?,?,?,?,?)",
            (oid, job.type, _pack_argv(job.argv), job.cwd, job.started_ns, job.ended_ns,
             job.exit_code, job.signal, int(job.interrupted)),
        )  # fmt: skip
        for role, arts in (("in", job.inputs), ("out", job.outputs)):
            self.db.executemany(
                "INSERT INTO artifacts VALUES (?,?,?,?,?,?)",
                [(oid, role, a.path, a.hash, a.size, a.kind) for a in arts],
            )
            for a in arts:
                if a.kind == "tree" and not self.tree_members(a.hash):
                    tree = self.ws.objects.read(a.hash)
                    self.db.executemany(
                        "INSERT INTO tree_entries VALUES (?,?)",
                        [(a.hash, e.hash) for e in tree.entries],  # type: ignore[attr-defined]
                    )
        return job

    # -- queries ---------------------------------------------------------

    def steps(self, ref: str) -> list[Step]:
        self.sync(ref)
        rows = self.db.execute(
            "SELECT session_object, job, step, step_kind, supersedes, time_ns, superseded "
            "FROM steps WHERE ref=? ORDER BY seq",
            (ref,),
        ).fetchall()
        return [Step(*r[:6], superseded=bool(r[6])) for r in rows]

    def log_rows(self, ref: str) -> list[LogRow]:
        """Every step with what `log` and `dag` print, oldest first (SQL does the work)."""
        self.sync(ref)
        rows = self.db.execute(_LOG_QUERY, (ref,)).fetchall()
        return list(map(LogRow._make, rows))

    def counts(self, ref: str) -> Counts:
        self.sync(ref)
        steps, jobs, builds = self.db.execute(
            "SELECT coalesce(sum(superseded = 0), 0), count(*),"
            " coalesce(sum(superseded = 0 AND step_kind = 'build'), 0) FROM steps WHERE ref=?",
            (ref,),
        ).fetchone()
        last = self.db.execute(
            "SELECT label, time_text FROM steps WHERE ref=? AND superseded=0"
            " ORDER BY seq DESC LIMIT 1",
            (ref,),
        ).fetchone()
        return Counts(steps, jobs, builds, *(last or (None, None)))

    def log_text(self, ref: str, limit: int = 0) -> str:
        """`roar log` as one string, newest first, built by SQLite (no per-row Python)."""
        self.sync(ref)
        row = self.db.execute(
            "SELECT group_concat(line || CASE WHEN superseded THEN ' (superseded)' ELSE '' END,"
            " char(10)) FROM (SELECT line, superseded FROM steps WHERE ref=?"
            " ORDER BY seq DESC LIMIT ?)",
            (ref, limit if limit > 0 else -1),
        ).fetchone()
        return row[0] or ""

    def deps(self, ref: str) -> dict[int, list[str]]:
        """seq -> labels of the steps it read from (call after sync)."""
        rows = self.db.execute(
            "SELECT seq, parents FROM steps WHERE ref=? AND parents != ''", (ref,)
        ).fetchall()
        return {seq: parents.split(",") for seq, parents in rows}

    def hashes_with_prefix(self, prefix: str) -> list[str]:
        rows = self.db.execute(
            "SELECT DISTINCT hash FROM artifacts WHERE hash >= ? AND hash < ? LIMIT 10",
            (prefix, prefix + "g"),
        ).fetchall()
        return [r[0] for r in rows]

    def steps_touching(self, ref: str, digest: str) -> list[tuple[Step, str]]:
        """(live step, "in"/"out") for each step of `ref` that read or wrote `digest`,
        directly or inside a composite, oldest first."""
        self.sync(ref)
        rows = self.db.execute(
            "SELECT s.session_object, s.job, s.step, s.step_kind, s.supersedes, s.time_ns, x.role "
            "FROM (SELECT job, role FROM artifacts WHERE hash = ?1 UNION "
            "      SELECT a.job, a.role FROM tree_entries t JOIN artifacts a ON a.hash = t.tree "
            "      WHERE t.hash = ?1) x "
            "JOIN steps s ON s.job = x.job AND s.ref = ?2 WHERE s.superseded = 0 ORDER BY s.seq",
            (digest, ref),
        ).fetchall()
        return [(Step(*r[:6]), r[6]) for r in rows]

    def jobs(self, ids: Iterable[str], *, read_missing: bool = True) -> dict[str, Job]:
        """Jobs by id, built from the cache (their `context` is left empty)."""
        wanted = list(dict.fromkeys(ids))
        result: dict[str, Job] = {}
        arts: dict[str, tuple[list[ArtifactRef], list[ArtifactRef]]] = {i: ([], []) for i in wanted}
        for chunk in _chunks(wanted, 500):
            marks = ",".join("?" * len(chunk))
            for job, role, path, digest, size, kind in self.db.execute(
                f"SELECT job, role, path, hash, size, kind FROM artifacts WHERE job IN ({marks})",
                chunk,
            ):
                arts[job][0 if role == "in" else 1].append(ArtifactRef(path, digest, size, kind))
            for r in self.db.execute(f"SELECT * FROM jobs WHERE id IN ({marks})", chunk):
                ins, outs = arts[r[0]]
                result[r[0]] = Job(
                    type=r[1], argv=unpack_argv(r[2]), cwd=r[3], started_ns=r[4], ended_ns=r[5],
                    exit_code=r[6], signal=r[7], interrupted=bool(r[8]),
                    inputs=tuple(sorted(ins, key=lambda a: a.path)),
                    outputs=tuple(sorted(outs, key=lambda a: a.path)),
                )  # fmt: skip
        if read_missing:
            for oid in wanted:
                if oid not in result:  # not indexed, e.g. a fetched job outside any session
                    job = self.ws.objects.read(oid)
                    assert isinstance(job, Job)
                    result[oid] = job
        return result

    def sync_all(self) -> None:
        """Bring every session ref up to date (for queries across sessions)."""
        for ref in self.ws.refs.list("refs/sessions/"):
            self.sync(ref)

    def producer_of(self, digest: str, before_ns: int | None = None) -> str | None:
        """The latest indexed job (any session) that wrote `digest`, directly or in a
        composite, and ended before `before_ns` if given."""
        rows = self.db.execute(
            "SELECT j.id, j.ended_ns FROM jobs j JOIN ("
            "  SELECT job FROM artifacts WHERE hash = ?1 AND role = 'out' UNION "
            "  SELECT a.job FROM tree_entries t JOIN artifacts a ON a.hash = t.tree "
            "  WHERE t.hash = ?1 AND a.role = 'out') x ON x.job = j.id "
            "ORDER BY j.ended_ns DESC",
            (digest,),
        ).fetchall()
        for job, ended in rows:
            if before_ns is None or ended <= before_ns:
                return str(job)
        return None

    def tree_members(self, tree: str) -> list[str]:
        rows = self.db.execute("SELECT hash FROM tree_entries WHERE tree=?", (tree,)).fetchall()
        return [r[0] for r in rows]


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


@dataclass
class SessionView:
    """A session's steps with their jobs, for DAG and lineage queries over whole jobs."""

    ref: str
    steps: list[Step]
    jobs: dict[str, Job]
    index: SessionIndex

    def members(self, tree: str) -> list[str]:
        return self.index.tree_members(tree)


def open_index(ws: Workspace) -> SessionIndex:
    return SessionIndex(ws)


def load_session(ws: Workspace, ref: str | None = None) -> SessionView:
    from roar.sessions import active_ref

    index = SessionIndex(ws)
    ref = ref or active_ref(ws)
    steps = index.steps(ref)
    return SessionView(ref, steps, index.jobs(s.job for s in steps), index)
