"""A SQLite cache of the store: every job, every session chain, and the DAG edges.

The source of truth stays the objects and refs; `roar.index.source` answers
the lineage rules from here. Before a query the cache catches up with what
it needs:

- a session ref (`sync`): new steps are appended, their edges decided as
  they arrive with the core's rule (`roar.lineage.dag.step_reads`) from a
  per-session "last writer of each hash" table; a ref moved back (`roar
  pop`) truncates; anything else rebuilds that session;
- the whole store (`sync_store`): objects that arrived without a ref
  (fetched jobs, popped steps) are found by listing only the fan-out
  directories whose mtime changed and the packs not seen before.

What the inspection commands print per step is stored as the step arrives:
its row of `roar log` (`log_line`) and its in/out/consumed counts; the
terminal outputs of the live steps (`live_ends`) are decided once per head,
and a whole answer (`roar dag`'s text or JSON) can be kept for its head
(`answer`, `keep_answer`): printed again until the session moves.

The file is a cache: deleting it loses nothing, and one that SQLite cannot
read is deleted and rebuilt. Jobs are cached without their `context`.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple, TypeVar

from roar.atomic import is_temporary
from roar.display import printable
from roar.errors import CorruptObject
from roar.lineage.dag import Read, consumed, shown_outputs, step_reads
from roar.lineage.source import Step, step_label
from roar.objects.base import is_id
from roar.objects.job import ArtifactRef, Job, recorded_digests
from roar.objects.session import Session
from roar.objects.tree import Tree
from roar.workspace import Workspace

T = TypeVar("T")

SCHEMA_VERSION = "14"
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
    inputs INTEGER NOT NULL, outputs INTEGER NOT NULL, consumed INTEGER NOT NULL,
    PRIMARY KEY (ref, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS steps_by_object ON steps (session_object);
CREATE INDEX IF NOT EXISTS steps_by_label ON steps (ref, label, seq);
CREATE INDEX IF NOT EXISTS steps_by_job ON steps (job, ref);
CREATE TABLE IF NOT EXISTS reads (
    ref TEXT NOT NULL, seq INTEGER NOT NULL, parent TEXT NOT NULL, writer TEXT NOT NULL,
    hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS reads_by_step ON reads (ref, seq);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, type TEXT NOT NULL, argv BLOB NOT NULL, cwd BLOB NOT NULL,
    started_ns INTEGER NOT NULL, ended_ns INTEGER NOT NULL, exit_code INTEGER NOT NULL,
    signal INTEGER, interrupted INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS artifacts (
    job TEXT NOT NULL, role TEXT NOT NULL, path BLOB NOT NULL, hash TEXT NOT NULL,
    size INTEGER NOT NULL, kind TEXT NOT NULL, digests TEXT);
CREATE INDEX IF NOT EXISTS artifacts_by_job ON artifacts (job);
CREATE INDEX IF NOT EXISTS artifacts_by_hash ON artifacts (hash, role);
CREATE INDEX IF NOT EXISTS artifacts_trees ON artifacts (hash) WHERE kind = 'tree';
CREATE TABLE IF NOT EXISTS tree_entries (tree TEXT NOT NULL, hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS tree_entries_by_tree ON tree_entries (tree);
CREATE INDEX IF NOT EXISTS tree_entries_by_hash ON tree_entries (hash);
CREATE TABLE IF NOT EXISTS writers (
    ref TEXT NOT NULL, hash TEXT NOT NULL, label TEXT NOT NULL, job TEXT NOT NULL,
    PRIMARY KEY (ref, hash));
CREATE TABLE IF NOT EXISTS dag_ends (
    ref TEXT NOT NULL, head TEXT NOT NULL, n INTEGER NOT NULL, seq INTEGER NOT NULL,
    path BLOB NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (ref, n)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS digests (
    algorithm TEXT NOT NULL, digest TEXT NOT NULL, hash TEXT NOT NULL,
    PRIMARY KEY (algorithm, digest, hash)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS objects (id TEXT PRIMARY KEY, kind TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS scanned (name TEXT PRIMARY KEY, stamp INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS answers (
    ref TEXT NOT NULL, key TEXT NOT NULL, head TEXT NOT NULL, stamp TEXT NOT NULL,
    packed INTEGER NOT NULL, body BLOB NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS answers_by_key ON answers (ref, key);
"""

# A fan-out directory's mtime is trusted only once it is this old: a write
# within the filesystem's timestamp tick could otherwise go unseen (git's
# "racily clean" rule).
SETTLED_NS = 2_000_000_000

# An answer larger than this is kept zstd-compressed (`dag --json` of 10,000
# steps is ~15 MB, ~0.7 MB packed); smaller ones (`dag` text of 10,000 steps is
# ~1 MB) are kept as they are, so printing them imports no compressor (~10 ms).
PACK_OVER = 8 << 20

_LOG_QUERY = """
SELECT seq, label, job, command, s.exit_code, duration_ns, time_ns, time_text, superseded,
       parents, step, step_kind, coalesce(j.interrupted, 0)
FROM steps s LEFT JOIN jobs j ON j.id = s.job WHERE ref = ? ORDER BY seq
"""

# What `roar dag` prints and orders by, and nothing else (10,000 rows).
_DAG_QUERY = """
SELECT seq, label, job, superseded, step_kind, step, parents, exit_code, command
FROM steps WHERE ref = ? ORDER BY seq
"""
# ... and for its text: the counts stored as each step arrived.
_DAG_TEXT_QUERY = """
SELECT seq, label, job, superseded, step_kind, step, parents, command, inputs, outputs, consumed
FROM steps WHERE ref = ? ORDER BY seq
"""


# `roar dag`'s text: every artifact of the session's steps (what the shown
# steps end in, when that is not the live steps' `dag_ends`), or of its live steps.
_DAG_ARTIFACTS_QUERY = """
SELECT s.seq, a.role, a.path, a.hash FROM steps s JOIN artifacts a ON a.job = s.job
WHERE s.ref = ? ORDER BY s.seq, a.rowid
"""
_LIVE_ARTIFACTS_QUERY = """
SELECT s.seq, a.role, a.path, a.hash FROM steps s JOIN artifacts a ON a.job = s.job
WHERE s.ref = ? AND s.superseded = 0 ORDER BY s.seq, a.rowid
"""


class DagTextRow(NamedTuple):
    seq: int
    label: str
    job: str
    superseded: int
    step_kind: str
    step: int
    parents: str
    command: str
    inputs: int
    outputs: int
    consumed: int


class DagRow(NamedTuple):
    seq: int
    label: str
    job: str
    superseded: int
    step_kind: str
    step: int
    parents: str  # comma-separated labels of the steps it read from
    exit_code: int
    command: str


def _display(argv: Iterable[bytes]) -> str:
    return " ".join(a.decode("utf-8", "replace") for a in argv)


def _pack_argv(argv: Iterable[bytes]) -> bytes:
    return b"\0".join(argv)


def unpack_argv(blob: bytes) -> tuple[bytes, ...]:
    return tuple(blob.split(b"\0")) if blob else ()


STEP_COLUMNS = "session_object, job, step, step_kind, supersedes, time_ns, superseded"


def step_of(row: tuple[Any, ...] | sqlite3.Row) -> Step:
    """A Step from a row of STEP_COLUMNS."""
    oid, job, step, kind, supersedes, time_ns, superseded = row
    return Step(
        str(oid), str(job), int(step), str(kind), supersedes, int(time_ns), bool(superseded)
    )


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
    step: int
    step_kind: str
    interrupted: int  # the run was interrupted (Ctrl-C or a signal to `roar run`)

    @property
    def parent_labels(self) -> list[str]:
        return self.parents.split(",") if self.parents else []


LOG_HEADER = "UID       STEP   TIMESTAMP             DURATION  STATUS  COMMAND"


def status_word(exit_code: int, interrupted: bool) -> str:
    """A job's STATUS in `log` and `show`: roar-cli's `OK` (exit 0) and `FAIL` (any other
    exit), and `INTR` for a run that was interrupted (Ctrl-C or a signal to `roar run`,
    which roar-cli does not record at all)."""
    if interrupted:
        return "INTR"
    return "OK" if exit_code == 0 else "FAIL"


def log_line(
    job: str,
    label: str,
    when: str,
    duration_ns: int,
    exit_code: int,
    command: str,
    interrupted: bool = False,
) -> str:
    """One row of roar-cli's `roar log` table (UID, STEP, TIMESTAMP (the job's start),
    DURATION, STATUS (`status_word`), COMMAND), stored as each step arrives."""
    status = status_word(exit_code, interrupted)
    return f"{job[:8]:<10}{label:<7}{when:<22}{duration_ns / 1e9:>7.1f}s  {status:<8}" + printable(
        command
    )


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

    # -- opening, and recovering from a damaged file --------------------

    def _open(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except sqlite3.DatabaseError:
            self._discard()
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA synchronous=OFF")  # a cache: a lost write is rebuilt
            try:  # the common case: an index of this version exists, nothing to create
                row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
                if row is not None and row[0] == SCHEMA_VERSION:
                    return db
            except sqlite3.OperationalError as e:
                if "no such table" not in str(e):
                    raise
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
                return db
            if row[0] == SCHEMA_VERSION:
                return db
        except BaseException:
            db.close()
            raise
        db.close()  # another version: a cache is rebuilt, never migrated
        self._discard()
        return self._connect()

    def _discard(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            try:
                os.unlink(f"{self.path}{suffix}")
            except FileNotFoundError:
                pass

    def recovering(self, action: Callable[[], T]) -> T:
        """Run a query; if SQLite finds the file damaged, rebuild it and run it again."""
        try:
            return action()
        except sqlite3.DatabaseError as e:
            if isinstance(e, sqlite3.OperationalError) and "locked" in str(e):
                raise
            self.db.close()
            self._discard()
            self.db = self._connect()
            return action()

    def close(self) -> None:
        self.db.close()

    # -- keeping up with the refs ---------------------------------------

    def _seq_of(self, ref: str, session_object: str) -> int | None:
        row = self.db.execute(
            "SELECT seq FROM steps WHERE ref=? AND session_object=?", (ref, session_object)
        ).fetchone()
        return None if row is None else int(row[0])

    def sync(self, ref: str) -> None:
        self.recovering(lambda: self._sync(ref))

    def _sync(self, ref: str) -> None:
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
            if not isinstance(obj, Session):
                if cur == head and ref.startswith("refs/remotes/"):
                    return  # a remote-tracking ref to something else: not a session
                raise CorruptObject(f"{ref} reaches {cur}, a {obj.kind} object, not a session")
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
            self.db.execute("DELETE FROM answers WHERE ref=?", (ref,))
            if head is None:
                self.db.execute("DELETE FROM heads WHERE ref=?", (ref,))
            else:
                self.db.execute("INSERT OR REPLACE INTO heads VALUES (?,?,?)", (ref, head, length))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _forget(self, ref: str, keep: int) -> None:
        """Drop steps from seq `keep` on, and recompute who wrote what last."""
        self.db.execute("DELETE FROM steps WHERE ref=? AND seq>=?", (ref, keep))
        self.db.execute("DELETE FROM reads WHERE ref=? AND seq>=?", (ref, keep))
        self.db.execute(
            "UPDATE steps SET superseded = EXISTS (SELECT 1 FROM steps t WHERE t.ref = steps.ref "
            "AND t.label = steps.label AND t.seq > steps.seq) "
            "WHERE ref=?",
            (ref,),
        )
        self.db.execute("DELETE FROM writers WHERE ref=?", (ref,))
        rows = self.db.execute(
            "SELECT s.label, s.job, a.hash, a.kind FROM steps s "
            "JOIN artifacts a ON a.job = s.job AND a.role = 'out' WHERE s.ref=? ORDER BY s.seq",
            (ref,),
        ).fetchall()
        for label, job, digest, art_kind in rows:
            self._wrote(ref, label, job, digest, art_kind)

    def _wrote(self, ref: str, label: str, job: str, digest: str, art_kind: str) -> None:
        hashes = [digest]
        if art_kind == "tree":
            hashes += [m for m in self.tree_members(digest) if m != digest]
        self.db.executemany(
            "INSERT OR REPLACE INTO writers VALUES (?,?,?,?)",
            [(ref, h, label, job) for h in hashes],
        )

    def _last_writer(self, ref: str) -> Callable[[str], tuple[str, str] | None]:
        def lookup(digest: str) -> tuple[str, str] | None:
            row = self.db.execute(
                "SELECT label, job FROM writers WHERE ref=? AND hash=?", (ref, digest)
            ).fetchone()
            return None if row is None else (row[0], row[1])

        return lookup

    def _append(self, ref: str, seq: int, oid: str, obj: Session) -> None:
        job = self._index_job(obj.job)
        self._seen(oid, "session")
        label = step_label(obj.step, obj.step_kind)
        # The newest execution of a step is live (docs/lineage.md §2).
        self.db.execute("UPDATE steps SET superseded=1 WHERE ref=? AND label=?", (ref, label))
        reads = step_reads((a.hash for a in job.inputs), self._last_writer(ref), label)
        self.db.executemany(
            "INSERT INTO reads VALUES (?,?,?,?,?)",
            [(ref, seq, r.parent, r.writer, r.hash) for r in reads],
        )
        parents = list(dict.fromkeys(r.parent for r in reads))
        command = _display(job.argv)
        # roar-cli's TIMESTAMP is when the job started, not when it was recorded.
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(job.started_ns / 1e9))
        line = log_line(
            obj.job, label, when, job.duration_ns, job.exit_code, command, job.interrupted
        )
        self.db.execute(
            "INSERT OR REPLACE INTO steps VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,0,?,?,?,?,?)",
            (ref, seq, oid, obj.job, obj.step, obj.step_kind, obj.supersedes, obj.time_ns, label,
             command, job.exit_code, job.duration_ns, when, ",".join(parents), line,
             len(job.inputs), len(job.outputs), consumed(reads)),
        )  # fmt: skip
        for art in job.outputs:
            self._wrote(ref, label, obj.job, art.hash, art.kind)

    def _seen(self, oid: str, kind: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO objects VALUES (?,?)", (oid, kind))

    def _index_job(self, oid: str, job: Job | None = None) -> Job:
        known = self.jobs([oid], read_missing=False)
        if oid in known:
            return known[oid]
        if job is None:
            job = self.ws.objects.read_kind(oid, Job)
        self._seen(oid, "job")
        self.db.execute(
            "INSERT INTO jobs VALUES (?,?,?,?,?,?,?,?,?)",
            (oid, job.type, _pack_argv(job.argv), job.cwd, job.started_ns, job.ended_ns,
             job.exit_code, job.signal, int(job.interrupted)),
        )  # fmt: skip
        for role, arts in (("in", job.inputs), ("out", job.outputs)):
            self.db.executemany(
                "INSERT INTO artifacts VALUES (?,?,?,?,?,?,?)",
                [(oid, role, a.path, a.hash, a.size, a.kind, _pack_digests(a)) for a in arts],
            )
            for a in arts:
                if a.kind == "tree":
                    self._index_tree(a.hash)
        self.db.executemany("INSERT OR IGNORE INTO digests VALUES (?,?,?)", recorded_digests(job))
        return job

    def _index_tree(self, tree_id: str, tree: Tree | None = None) -> None:
        if self.db.execute("SELECT 1 FROM objects WHERE id=?", (tree_id,)).fetchone():
            return
        if tree is None:
            if not self.ws.objects.contains(tree_id):
                return  # not here (yet): indexed when it arrives
            tree = self.ws.objects.read_kind(tree_id, Tree)
        self._seen(tree_id, "tree")
        self.db.executemany(
            "INSERT INTO tree_entries VALUES (?,?)", [(tree_id, e.hash) for e in tree.entries]
        )

    def sync_all(self) -> None:
        """Bring every session chain (local and remote-tracking) up to date."""
        for ref in self.session_refs():
            self.sync(ref)

    def session_refs(self) -> dict[str, str]:
        refs: dict[str, str] = {}
        for prefix in ("refs/sessions/", "refs/remotes/"):
            refs.update(self.ws.refs.list(prefix))
        return refs

    # -- keeping up with the store ----------------------------------------

    def sync_store(self) -> None:
        """Index every object that arrived since the last look (docs/lineage.md §1)."""
        self.recovering(self._sync_store)

    def _sync_store(self) -> None:
        root = self.ws.objects.root
        stamps = dict(self.db.execute("SELECT name, stamp FROM scanned"))
        settled_before = time.time_ns() - SETTLED_NS
        try:
            fan = list(os.scandir(root))
        except FileNotFoundError:
            return
        for d in fan:
            if len(d.name) != 2 or not d.is_dir():
                continue
            mtime = d.stat().st_mtime_ns
            if stamps.get(d.name) == mtime:
                continue
            ids = {d.name + n for n in os.listdir(d.path) if not is_temporary(n)}
            self._index_new(i for i in ids if is_id(i))
            if mtime < settled_before:
                self.db.execute("INSERT OR REPLACE INTO scanned VALUES (?,?)", (d.name, mtime))
        for pack in self.ws.objects.packs():
            name = "pack/" + pack.pack_path.name
            if name not in stamps:
                self._index_new(pack.ids())
                self.db.execute("INSERT OR REPLACE INTO scanned VALUES (?,?)", (name, 0))

    def _index_new(self, ids: Iterable[str]) -> None:
        candidates = list(ids)
        known: set[str] = set()
        for chunk in _chunks(candidates, 500):
            marks = ",".join("?" * len(chunk))
            known.update(
                r[0]
                for r in self.db.execute(f"SELECT id FROM objects WHERE id IN ({marks})", chunk)
            )
        new = sorted(set(candidates) - known)
        if not new:
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for oid in new:
                obj = self.ws.objects.read(oid)
                if isinstance(obj, Job):
                    self._index_job(oid, obj)
                elif isinstance(obj, Tree):
                    self._index_tree(oid, obj)
                else:
                    self._seen(oid, obj.kind)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    # -- queries ---------------------------------------------------------

    def steps(self, ref: str) -> list[Step]:
        self.sync(ref)
        rows = self.db.execute(
            f"SELECT {STEP_COLUMNS} FROM steps WHERE ref=? ORDER BY seq", (ref,)
        ).fetchall()
        return [step_of(r) for r in rows]

    def log_rows(self, ref: str) -> list[LogRow]:
        """Every step with what `log` and `dag` print, oldest first (SQL does the work)."""
        self.sync(ref)
        rows = self.db.execute(_LOG_QUERY, (ref,)).fetchall()
        return list(map(LogRow._make, rows))

    def log_lines(self, ref: str, limit: int = 0) -> tuple[int, str]:
        """(how many, their `log_line`s joined by newlines), oldest first; the newest
        `limit` when it is positive (SQLite joins them: 10,000 rows cost no Python)."""
        self.sync(ref)
        row = self.db.execute(
            "SELECT count(*), coalesce(group_concat(line, char(10)), '') FROM"
            " (SELECT seq, line FROM (SELECT seq, line FROM steps WHERE ref = ?"
            "  ORDER BY seq DESC LIMIT ?) ORDER BY seq)",
            (ref, limit if limit > 0 else -1),
        ).fetchone()
        return int(row[0]), str(row[1])

    def latest(self, ref: str) -> LogRow | None:
        """The newest execution of the session, as `log` shows it."""
        self.sync(ref)
        row = self.db.execute(_LOG_QUERY.replace("ORDER BY seq", "ORDER BY seq DESC LIMIT 1"),
                              (ref,)).fetchone()  # fmt: skip
        return LogRow._make(row) if row else None

    def recent_outputs(self, ref: str, limit: int | None) -> list[tuple[str, int, bytes]]:
        """(hash, size, path) of what the session's executions wrote, newest first,
        each hash once, at most `limit` (None: all)."""
        self.sync(ref)
        rows = self.db.execute(
            "SELECT a.hash, a.size, a.path FROM steps s JOIN artifacts a"
            " ON a.job = s.job AND a.role = 'out' WHERE s.ref = ? ORDER BY s.seq DESC LIMIT ?",
            (ref, -1 if limit is None else 4 * limit),  # SQLite: a negative LIMIT is none
        ).fetchall()
        seen: dict[str, tuple[str, int, bytes]] = {}
        for digest, size, path in rows:
            seen.setdefault(digest, (digest, size, path))
        return list(seen.values())[:limit]

    def dag_rows(self, ref: str) -> list[DagRow]:
        """Every step with what `roar dag` prints, oldest first."""
        self.sync(ref)
        return list(map(DagRow._make, self.db.execute(_DAG_QUERY, (ref,))))

    def dag_text_rows(self, ref: str) -> list[DagTextRow]:
        """Every step with its input, output and consumed counts, oldest first."""
        self.sync(ref)
        return list(map(DagTextRow._make, self.db.execute(_DAG_TEXT_QUERY, (ref,))))

    def dag_artifacts(self, ref: str) -> list[tuple[int, str, bytes, str]]:
        """(seq, role, path, hash) of every artifact of the session's steps (call after sync)."""
        return self.db.execute(_DAG_ARTIFACTS_QUERY, (ref,)).fetchall()

    def live_ends(self, ref: str) -> list[tuple[int, bytes, str]]:
        """(seq, path, hash) of the terminal outputs of the live executions, in the
        order `shown_outputs` gives them (call after sync). Decided by that rule once
        per head, then kept: what the pipeline ends in changes only when the session does."""
        cached = self.db.execute(
            "SELECT e.seq, e.path, e.hash FROM dag_ends e JOIN heads h ON h.ref = e.ref"
            " AND h.head = e.head WHERE e.ref = ? ORDER BY e.n",
            (ref,),
        ).fetchall()
        if cached:  # row -1 marks "decided for this head" when the pipeline ends in nothing
            return [(seq, path, digest) for seq, path, digest in cached if seq >= 0]
        self.db.execute("BEGIN IMMEDIATE")  # the head and its steps read as one state
        try:
            row = self.db.execute("SELECT head FROM heads WHERE ref = ?", (ref,)).fetchone()
            head = "" if row is None else str(row[0])
            by_seq: dict[int, tuple[list[tuple[bytes, str]], list[tuple[bytes, str]]]] = {}
            for seq, role, path, digest in self.db.execute(_LIVE_ARTIFACTS_QUERY, (ref,)):
                by_seq.setdefault(seq, ([], []))[role == "out"].append((path, digest))
            seqs = list(by_seq)
            ends = shown_outputs([by_seq[s][1] for s in seqs], [by_seq[s][0] for s in seqs])
            found = [(seqs[o.row], o.path, o.hash) for o in ends if o.terminal]
            self.db.execute("DELETE FROM dag_ends WHERE ref = ?", (ref,))
            self.db.executemany(
                "INSERT INTO dag_ends VALUES (?,?,?,?,?,?)",
                [(ref, head, n, *e) for n, e in enumerate([(-1, b"", ""), *found])],
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return found

    def answer(self, ref: str, key: str, head: str, stamp: str) -> bytes | None:
        """The answer kept for session `ref` at `head` under `key` (what was asked, e.g.
        `dag-text 80`), if it was kept with the same `stamp` (what else it depends on:
        labels, the roar version); None otherwise. Needs no sync: an answer is kept
        only for the head it was computed from, and a head names one chain."""
        row = self.recovering(
            lambda: self.db.execute(
                "SELECT packed, body FROM answers WHERE ref=? AND key=? AND head=? AND stamp=?",
                (ref, key, head, stamp),
            ).fetchone()
        )
        if row is None:
            return None
        if not row[0]:
            return bytes(row[1])
        import zstandard

        return zstandard.ZstdDecompressor().decompress(row[1])

    def keep_answer(self, ref: str, key: str, head: str, stamp: str, body: bytes) -> None:
        """Keep `body` as the answer to `key` for session `ref` at `head` (replacing the
        one kept before). The caller computed it from `head` and checked the ref still
        points there; the answers of a session are dropped when its head moves."""
        packed = len(body) > PACK_OVER
        if packed:
            import zstandard

            body = zstandard.ZstdCompressor(level=1).compress(body)
        row = (ref, key, head, stamp, int(packed), body)
        self.recovering(
            lambda: self.db.execute("INSERT OR REPLACE INTO answers VALUES (?,?,?,?,?,?)", row)
        )

    def trees_known(self) -> bool:
        """Whether every composite any indexed job read or wrote is indexed with its
        members. One that is not (its tree object not here yet) can still add to what
        its step wrote, so no answer about a session that holds it is final; asked of
        the whole index, since that is one lookup per composite (`artifacts_trees`)."""
        missing = self.db.execute(
            "SELECT 1 FROM artifacts a WHERE a.kind = 'tree'"
            " AND NOT EXISTS (SELECT 1 FROM objects o WHERE o.id = a.hash) LIMIT 1"
        ).fetchone()
        return missing is None

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

    def stale_reads(self, ref: str) -> dict[str, list[Read]]:
        """label -> what its live execution read from an execution since superseded
        (the only reads that can make a step stale; call after sync)."""
        rows = self.db.execute(
            "SELECT s.label, r.parent, r.writer, r.hash FROM reads r "
            "JOIN steps s ON s.ref = r.ref AND s.seq = r.seq AND s.superseded = 0 "
            "WHERE r.ref = ?1 AND EXISTS (SELECT 1 FROM steps w WHERE w.ref = ?1 "
            "AND w.job = r.writer AND w.label = r.parent AND w.superseded = 1)",
            (ref,),
        ).fetchall()
        out: dict[str, list[Read]] = {}
        for label, parent, writer, digest in rows:
            out.setdefault(label, []).append(Read(parent, writer, digest))
        return out

    def reads(self, ref: str, seqs: Iterable[int]) -> dict[int, list[Read]]:
        """seq -> what that execution read from earlier steps (call after sync)."""
        out: dict[int, list[Read]] = {}
        for chunk in _chunks(list(seqs), 500):
            marks = ",".join("?" * len(chunk))
            for seq, parent, writer, digest in self.db.execute(
                f"SELECT seq, parent, writer, hash FROM reads WHERE ref=? AND seq IN ({marks}) "
                "ORDER BY rowid",
                [ref, *chunk],
            ):
                out.setdefault(seq, []).append(Read(parent, writer, digest))
        return out

    def jobs(self, ids: Iterable[str], *, read_missing: bool = True) -> dict[str, Job]:
        """Jobs by id, built from the cache (their `context` is left empty)."""
        wanted = list(dict.fromkeys(ids))
        result: dict[str, Job] = {}
        arts: dict[str, tuple[list[ArtifactRef], list[ArtifactRef]]] = {i: ([], []) for i in wanted}
        for chunk in _chunks(wanted, 500):
            marks = ",".join("?" * len(chunk))
            for job, role, path, digest, size, kind, digests in self.db.execute(
                "SELECT job, role, path, hash, size, kind, digests FROM artifacts "
                f"WHERE job IN ({marks})",
                chunk,
            ):
                art = ArtifactRef(path, digest, size, kind, _unpack_digests(digests))
                arts[job][0 if role == "in" else 1].append(art)
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
                if oid not in result and self.ws.objects.contains(oid):
                    obj = self.ws.objects.read(oid)
                    if isinstance(obj, Job):
                        result[oid] = obj
        return result

    def tree_members(self, tree: str) -> list[str]:
        rows = self.db.execute("SELECT hash FROM tree_entries WHERE tree=?", (tree,)).fetchall()
        return [r[0] for r in rows]

    def query(self, sql: str, params: Iterable[object]) -> Iterator[tuple[object, ...]]:
        """Rows of a read-only query, for the lineage source."""
        yield from self.db.execute(sql, list(params))


def _pack_digests(a: ArtifactRef) -> str | None:
    """An artifact's extra digests as one column: `md5:<hex> sha256:<hex>`."""
    return " ".join(f"{al}:{d}" for al, d in a.digests) or None


def _unpack_digests(text: str | None) -> tuple[tuple[str, str], ...]:
    if not text:
        return ()
    pairs = (item.split(":", 1) for item in text.split())
    return tuple((al, d) for al, d in pairs)


def _chunks(items: list[T], size: int) -> Iterator[list[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
