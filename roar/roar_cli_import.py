"""Bring a roar-cli 0.4.7 workspace's history into the object store.

roar-cli keeps everything in `.roar/roar.db` (SQLite). This reads it (read
only; the database is kept as it is) and writes, for every recorded job, a
`job` object, its `env` object, one session ref per roar-cli session
(`refs/sessions/roar-cli-<id>`, HEAD at the one roar-cli had active) and the
user labels as `label` chains. What our schemas have no field for is kept in
the job's `context.imported`: roar-cli's job uid and step name, every digest
of every artifact (sha256, md5, ...), and roar-cli's own metadata as a blob.
The mapping is written to `.roar/import/roar-cli.json`. docs/roar-cli-compat.md
gives the field-by-field mapping.
"""

from __future__ import annotations

import json
import os
import shlex
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from roar.errors import RoarError, UsageError
from roar.workspace import ROAR_DIR, Workspace

DATABASE = "roar.db"
RECORD = "import/roar-cli.json"
REF_PREFIX = "refs/sessions/roar-cli-"
# Tables whose columns the import reads; a database without them is not roar-cli's.
NEEDED = ("sessions", "jobs", "artifacts", "artifact_hashes", "job_inputs", "job_outputs")


@dataclass
class ImportReport:
    database: str
    sessions: dict[int, str] = field(default_factory=dict)  # roar-cli session id -> ref
    jobs: dict[str, str] = field(default_factory=dict)  # roar-cli job uid -> job id
    artifacts: set[str] = field(default_factory=set)  # BLAKE3 hashes now in job objects
    extra_digests: int = 0  # non-BLAKE3 digests kept in context.imported
    without_blake3: int = 0  # artifacts with no BLAKE3 digest (kept in context.imported)
    labels: int = 0  # label objects written
    head: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "sessions": {str(k): v for k, v in self.sessions.items()},
            "jobs": self.jobs,
            "artifacts": len(self.artifacts),
            "extra_digests": self.extra_digests,
            "artifacts_without_blake3": self.without_blake3,
            "labels": self.labels,
            "head": self.head,
        }


def legacy_database(root: Path) -> Path | None:
    """roar-cli's database under `root`, when roar has not taken the workspace over yet."""
    db = root / ROAR_DIR / DATABASE
    if db.is_file() and not (root / ROAR_DIR / "HEAD").exists():
        return db
    return None


def open_database(db: Path) -> sqlite3.Connection:
    """Open roar-cli's database read-only; refuse one that lacks its tables."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as e:
        raise UsageError(f"{db} is not a readable SQLite database: {e}") from None
    missing = [t for t in NEEDED if t not in tables]
    if missing:
        raise UsageError(f"{db} is not a roar-cli database (no {', '.join(missing)} table)")
    return conn


def summary(db: Path) -> dict[str, int]:
    """How much history the database holds: sessions, jobs, artifacts, labels."""
    conn = open_database(db)
    with conn:
        count = {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608
            for t in ("sessions", "jobs", "artifacts")
        }
        count["labels"] = _user_label_count(conn)
    conn.close()
    return count


def import_workspace(root: Path) -> ImportReport:
    """Import roar-cli's history under `root`; HEAD is written last, so an
    interrupted import leaves the workspace still recognisably roar-cli's and a
    second run completes it (objects are content-addressed, refs are set)."""
    db = root / ROAR_DIR / DATABASE
    conn = open_database(db)
    ws = Workspace(root)
    for sub in (
        "objects",
        "refs/sessions",
        "refs/labels",
        "refs/remotes",
        "logs",
        "cache",
        "import",
    ):
        (ws.dir / sub).mkdir(parents=True, exist_ok=True)
    report = ImportReport(str(db))
    try:
        digests = _digests(conn)
        session_heads: dict[int, str | None] = {}
        job_ids: dict[int, str] = {}
        for srow in conn.execute("SELECT * FROM sessions ORDER BY id").fetchall():
            ref = f"{REF_PREFIX}{srow['id']}"
            report.sessions[srow["id"]] = ref
            session_heads[srow["id"]] = _import_session(
                ws, conn, srow, ref, digests, job_ids, report, root
            )
            if srow["is_active"]:
                report.head = ref
        loose = conn.execute("SELECT * FROM jobs WHERE session_id IS NULL ORDER BY id").fetchall()
        if loose:
            ref = f"{REF_PREFIX}unsessioned"
            session_heads[-1] = _append_jobs(
                ws, conn, loose, ref, None, digests, job_ids, report, root
            )
        _import_labels(ws, conn, job_ids, session_heads, digests, report)
    except (sqlite3.DatabaseError, ValueError, KeyError, TypeError, OverflowError) as e:
        raise RoarError(
            f"cannot import {db}: {e}; nothing is lost, the database is untouched"
        ) from None
    finally:
        conn.close()
    from roar.atomic import write_atomic
    from roar.config import default_toml

    if not ws.config_path.exists():
        write_atomic(ws.config_path, default_toml().encode())
    write_atomic(ws.dir / RECORD, json.dumps(report.to_json(), indent=2).encode())
    ws.refs.set_head(
        report.head or (next(iter(report.sessions.values()), None) or "refs/sessions/main")
    )
    return report


def _digests(conn: sqlite3.Connection) -> dict[str, dict[str, str]]:
    """artifact id -> {algorithm: digest}, every algorithm roar-cli recorded."""
    out: dict[str, dict[str, str]] = {}
    for r in conn.execute("SELECT artifact_id, algorithm, digest FROM artifact_hashes"):
        out.setdefault(r["artifact_id"], {})[str(r["algorithm"]).lower()] = str(r["digest"]).lower()
    return out


def _import_session(ws, conn, srow, ref, digests, job_ids, report, root) -> str | None:  # type: ignore[no-untyped-def]
    rows = conn.execute(
        "SELECT * FROM jobs WHERE session_id = ? ORDER BY timestamp, id", (srow["id"],)
    ).fetchall()
    return _append_jobs(ws, conn, rows, ref, srow["hash"], digests, job_ids, report, root)


def _append_jobs(ws, conn, rows, ref, session_hash, digests, job_ids, report, root) -> str | None:  # type: ignore[no-untyped-def]
    """Write each job and chain them as the session's steps; set the ref to the head."""
    from roar.objects.session import Session

    head: str | None = None
    latest: dict[tuple[str, int], str] = {}
    for row in rows:
        job = _job(ws, conn, row, ref, session_hash, digests, report, root)
        oid = ws.objects.write(job)
        job_ids[row["id"]] = oid
        report.jobs[str(row["job_uid"] or row["id"])] = oid
        kind = "build" if row["job_type"] == "build" else "run"
        step = int(row["step_number"] or 0) or (len(latest) + 1)
        supersedes = latest.get((kind, step))
        head = ws.objects.write(Session(head, oid, step, kind, job.ended_ns, supersedes))
        latest[(kind, step)] = oid
    if head is not None:
        ws.refs.update(ref, head, message="import roar-cli session")
    return head


def _job(ws, conn, row, ref, session_hash, digests, report, root):  # type: ignore[no-untyped-def]
    from roar.objects.blob import Blob
    from roar.objects.job import Job

    meta = _json(row["metadata"])
    runtime = meta.get("runtime") or {}
    argv = runtime.get("command")
    if not (isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv)):
        argv = shlex.split(row["command"] or "") or [row["command"] or ""]
    ended = _ns(row["timestamp"])
    timing = runtime.get("timing") or {}
    started_ns = _iso_ns(timing.get("start"))
    ended_ns = _iso_ns(timing.get("end"))
    duration = float(row["duration_seconds"] or 0.0)
    if started_ns is None or ended_ns is None:
        ended_ns, started_ns = ended, ended - int(duration * 1e9)
    extra: dict[str, dict[str, str]] = {}
    unhashed: list[dict[str, Any]] = []
    inputs = _artifacts(conn, row, "job_inputs", digests, extra, unhashed, report)
    outputs = _artifacts(conn, row, "job_outputs", digests, extra, unhashed, report)
    cwd = meta.get("cwd") or str(root)
    imported: dict[str, Any] = {
        "from": "roar-cli",
        "version": str(meta.get("roar_version") or ""),
        "job_uid": str(row["job_uid"] or ""),
        "job_id": int(row["id"]),
        "session_hash": str(session_hash or ""),
        "step_name": row["step_name"],
        "metadata": ws.objects.write(Blob(str(row["metadata"] or "").encode())),
        "digests": extra,
    }
    if unhashed:
        imported["without_blake3"] = unhashed
    context: dict[str, Any] = {
        "git": _git(row, meta, root),
        "env": _env(ws, meta),
        "env_vars": sorted(
            (os.fsencode(str(k)), os.fsencode(str(v)))
            for k, v in (runtime.get("env_vars") or {}).items()
        ),
        "session": ref,
        "step": row["step_number"],
        "params": None,
        "imported": imported,
    }
    get = meta.get("get")
    if row["job_type"] in ("get", "put") and isinstance(get, dict) and get.get("source"):
        context["url"] = str(get["source"])
    code = row["exit_code"]
    return Job(
        type=row["job_type"] if row["job_type"] in ("build", "get", "put") else "run",
        argv=tuple(os.fsencode(a) for a in argv),
        cwd=os.fsencode(cwd),
        started_ns=started_ns,
        ended_ns=max(ended_ns, started_ns),
        exit_code=int(code) if code is not None else 0,
        inputs=inputs,
        outputs=outputs,
        context=context,
    )


def _artifacts(conn, row, table, digests, extra, unhashed, report):  # type: ignore[no-untyped-def]
    from roar.objects.base import is_id
    from roar.objects.job import ArtifactRef

    by_path: dict[bytes, ArtifactRef] = {}
    query = (
        f"SELECT t.path, a.id, a.size, a.kind FROM {table} t "  # noqa: S608 (fixed table names)
        "JOIN artifacts a ON a.id = t.artifact_id WHERE t.job_id = ? ORDER BY t.path"
    )
    for r in conn.execute(query, (row["id"],)):
        algos = digests.get(r["id"], {})
        path = os.fsencode(r["path"])
        b3 = algos.get("blake3")
        if b3 is None or not is_id(b3):
            unhashed.append({"path": r["path"], "digests": algos})
            report.without_blake3 += 1
            continue
        others = {k: v for k, v in algos.items() if k != "blake3"}
        if others:
            extra[b3] = others
            report.extra_digests += len(others)
        report.artifacts.add(b3)
        by_path.setdefault(path, ArtifactRef(path, b3, int(r["size"] or 0), "file"))
    return tuple(by_path[p] for p in sorted(by_path))


def _git(row, meta, root) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
    if not row["git_commit"]:
        return None
    git = meta.get("git") if isinstance(meta.get("git"), dict) else {}
    clean = git.get("clean")
    return {
        "repo": str(row["git_repo"] or root),
        "remote": git.get("remote") if isinstance(git.get("remote"), str) else None,
        "branch": row["git_branch"],
        "commit": str(row["git_commit"]),
        "dirty": clean is False,
        "patch": None,
    }


def _env(ws, meta) -> str | None:  # type: ignore[no-untyped-def]
    from roar.objects.env import Env

    runtime = meta.get("runtime")
    if not isinstance(runtime, dict):
        return None
    os_info, cpu = runtime.get("os") or {}, runtime.get("cpu") or {}
    python = runtime.get("python") or {}
    pip = (meta.get("packages") or {}).get("pip") or {}
    packages: dict[str, str] = {}
    for name, version in pip.items():
        packages.setdefault(str(name).replace("_", "-").lower(), str(version))
    env = Env(
        os={
            "system": str(os_info.get("system", "")),
            "release": str(os_info.get("release", "")),
            "distro": None,
        },
        cpu={"model": str(cpu.get("model", "")), "cores": int(cpu.get("count") or 0)},
        memory=int((runtime.get("memory") or {}).get("total_mb") or 0) * 1024 * 1024,
        gpus=tuple(_gpus(runtime.get("gpu"))),
        python={"version": str(python["version"]), "executable": b""}
        if python.get("version")
        else None,
        packages=tuple(sorted(packages.items())),
    )
    return ws.objects.write(env)  # type: ignore[no-any-return]


def _gpus(value: Any) -> list[dict[str, Any]]:
    items = (
        value
        if isinstance(value, list)
        else (value.get("devices") or [])
        if isinstance(value, dict)
        else []
    )
    out = []
    for g in items:
        if isinstance(g, dict):
            mem = g.get("memory_mb") or g.get("memory_total_mb")
            out.append(
                {
                    "name": str(g.get("name", "GPU")),
                    "memory": int(mem) * 1024 * 1024 if isinstance(mem, (int, float)) else None,
                }
            )
    return out


def _import_labels(ws, conn, job_ids, session_heads, digests, report) -> None:  # type: ignore[no-untyped-def]
    """User label versions, oldest first, as label chains (roar-cli's `roar` system key dropped:
    it repeats the job's metadata, which the job's context.imported keeps)."""
    from roar.objects.label import Label

    rows = conn.execute("SELECT * FROM labels ORDER BY created_at, id").fetchall()
    chains: dict[str, list[tuple[dict[str, Any], int]]] = {}
    for r in rows:
        if r["job_id"] is not None:
            target = job_ids.get(r["job_id"])
        elif r["artifact_id"] is not None:
            target = digests.get(r["artifact_id"], {}).get("blake3")
        else:
            target = session_heads.get(r["session_id"])
        doc = _json(r["metadata"])
        doc.pop("roar", None)
        labels = _flatten(doc)
        if target is None or (not labels and target not in chains):
            continue
        chains.setdefault(target, []).append((labels, _ns(r["created_at"])))
    for target, versions in chains.items():
        parent = ws.refs.read(f"refs/labels/{target}")
        if parent is not None:
            continue  # imported before (a re-run of an interrupted import)
        for labels, time_ns in versions:
            parent = ws.objects.write(Label(target, labels, parent, time_ns))
            report.labels += 1
        ws.refs.update(f"refs/labels/{target}", parent, message="import roar-cli labels")


def _flatten(doc: dict[str, Any], prefix: str = "") -> dict[str, str | int | bool]:
    """Nested label documents as dotted keys; floats (CBOR here has none) as their text."""
    out: dict[str, str | int | bool] = {}
    for k, v in doc.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        elif isinstance(v, (bool, int, str)):
            out[key] = v
        elif isinstance(v, float):
            out[key] = repr(v)
        elif v is not None:
            out[key] = json.dumps(v)
    return out


def _user_label_count(conn: sqlite3.Connection) -> int:
    try:
        return int(
            conn.execute("SELECT count(*) FROM labels WHERE write_origin = 'user'").fetchone()[0]
        )
    except sqlite3.DatabaseError:
        return 0


def _json(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _ns(seconds: Any) -> int:
    return int(float(seconds or 0) * 1_000_000_000)


def _iso_ns(text: Any) -> int | None:
    if not isinstance(text, str):
        return None
    try:
        return int(datetime.fromisoformat(text).timestamp() * 1_000_000_000)
    except ValueError:
        return None
