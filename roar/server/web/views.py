"""The data of each page: one function per page, returning its JSON twin.

The HTML page renders exactly this dict; /api/v1 serves it as JSON. A
function returns None when the caller may not see the thing, and both
twins answer 404 then: what a visitor may not see is not in the HTML.
"""

from __future__ import annotations

import mimetypes
import os
import re
from typing import Any

from roar.objects.blob import Blob
from roar.objects.env import Env
from roar.objects.job import Job
from roar.server.scope import Caller
from roar.server.storage import Storage
from roar.server.storage.records import ArtifactEntry, StepRef
from roar.server.web import graph

MAX_PATCH_BYTES = 256 * 1024
# mimetypes knows little of ML formats (it calls .pt a page table).
ML_TYPES = {
    ".pt": "PyTorch tensors/checkpoint", ".pth": "PyTorch tensors/checkpoint",
    ".ckpt": "checkpoint", ".safetensors": "safetensors", ".onnx": "ONNX model",
    ".pkl": "Python pickle", ".pickle": "Python pickle", ".joblib": "joblib pickle",
    ".npy": "NumPy array", ".npz": "NumPy arrays", ".parquet": "Apache Parquet",
    ".arrow": "Apache Arrow", ".feather": "Apache Arrow (Feather)", ".h5": "HDF5",
    ".hdf5": "HDF5", ".tfrecord": "TFRecord", ".gguf": "GGUF model", ".jsonl": "JSON lines",
    ".py": "Python source", ".ipynb": "Jupyter notebook",
}  # fmt: skip
_SITE_TOP = re.compile(rb"/(?:site|dist)-packages/([^/]+)")


def resolve(storage: Storage, caller: Caller, text: str) -> list[dict[str, str]]:
    """Pages a pasted hash or prefix can name: [{"hash", "kind"}]."""
    prefix = text.strip().lower()
    if len(prefix) < 4 or any(c not in "0123456789abcdef" for c in prefix):
        return []
    return [m.to_json() for m in storage.web.resolve_prefix(prefix, caller)]


def home(storage: Storage, caller: Caller) -> dict[str, Any]:
    """{"recent_sessions": [SessionHead]} (storage/records.py)."""
    return {"recent_sessions": [h.to_json() for h in storage.web.recent_sessions(caller)]}


def artifact(storage: Storage, caller: Caller, digest: str) -> dict[str, Any] | None:
    """The artifact page: hash, registered_ns, visible, digests, size, kind, type, paths,
    labels, produced_by and consumed_by ([{"job", "path", "command", "exit_code",
    "started_ns"}]), sessions, reproduce (the command), dag (graph.upstream)."""
    found = storage.lookup.hash(digest, caller)
    if found is None or found.artifact is None:
        return None
    art = found.artifact
    entries = art.produced_by + art.consumed_by
    rows = storage.lineage.job_rows({e.job for e in entries}, caller)
    paths = sorted({e.path for e in entries})
    kind = entries[0].kind if entries else None
    placed = storage.lineage.placements({e.job for e in art.produced_by}, caller)
    steps = [s for job in sorted(placed) for s in placed[job]]

    def jobs(side: list[ArtifactEntry]) -> list[dict[str, Any]]:
        out = {}
        for e in side:
            row = rows.get(e.job)
            out.setdefault(
                e.job,
                {
                    "job": e.job,
                    "path": e.path,
                    "command": row.command if row else None,
                    "exit_code": row.exit_code if row else None,
                    "started_ns": row.started_ns if row else None,
                },
            )
        return sorted(out.values(), key=lambda j: j["started_ns"] or 0)

    visible = bool(entries)
    return {
        "hash": digest,
        "registered_ns": art.registered_ns,
        "visible": visible,
        "digests": {"blake3": digest},
        "size": entries[0].size if entries else None,
        "kind": kind,
        "type": _file_type(paths, kind),
        "paths": paths,
        "labels": found.labels,
        "produced_by": jobs(art.produced_by),
        "consumed_by": jobs(art.consumed_by),
        "sessions": _sessions(steps),
        "reproduce": f"roar reproduce {digest}",
        "dag": graph.upstream(storage, caller, [digest], []) if visible else None,
    }


def job(storage: Storage, caller: Caller, job_id: str) -> dict[str, Any] | None:
    """The job page: job, type, command (argv), cwd, exit_code, signal, interrupted,
    started_ns, ended_ns, duration_s, git (with patch_text), environment, env_vars,
    inputs, outputs, labels, sessions, dag."""
    obj = storage.lineage.jobs([job_id], caller).get(job_id)
    if obj is None:
        return None
    git = dict(obj.context.get("git") or {})
    env_id = obj.context.get("env")
    refs = [r for r in (git.get("patch"), env_id) if isinstance(r, str)]
    extra = storage.lineage.objects(refs, caller) if refs else {}
    patch = extra.get(git.get("patch")) if isinstance(git.get("patch"), str) else None
    if isinstance(patch, Blob):
        git["patch_text"] = patch.data[:MAX_PATCH_BYTES].decode("utf-8", "replace")
        git["patch_truncated"] = len(patch.data) > MAX_PATCH_BYTES
    env = extra.get(env_id) if isinstance(env_id, str) else None
    looked = storage.lookup.hash(job_id, caller)
    return {
        "job": job_id,
        "type": obj.type,
        "command": [os.fsdecode(a) for a in obj.argv],
        "cwd": os.fsdecode(obj.cwd),
        "exit_code": obj.exit_code,
        "signal": obj.signal,
        "interrupted": obj.interrupted,
        "started_ns": obj.started_ns,
        "ended_ns": obj.ended_ns,
        "duration_s": round(obj.duration_ns / 1e9, 3),
        "git": _plain(git) or None,
        "environment": _environment(env_id, env, obj),
        "env_vars": [[os.fsdecode(k), os.fsdecode(v)] for k, v in obj.context.get("env_vars", [])],
        "inputs": [_artifact_ref(a) for a in obj.inputs],
        "outputs": [_artifact_ref(a) for a in obj.outputs],
        "labels": looked.labels if looked else {},
        "sessions": _sessions(storage.lineage.placements([job_id], caller).get(job_id, [])),
        "dag": graph.upstream(storage, caller, [], [job_id]),
    }


def session(storage: Storage, caller: Caller, session_id: str) -> dict[str, Any] | None:
    """The session page: session, steps (graph.session_steps), live_steps, stale_steps,
    superseded_steps, dag."""
    found = graph.session_steps(storage, caller, session_id)
    if found is None:
        return None
    live = [s for s in found.steps if not s["superseded"]]
    return {
        "session": session_id,
        "steps": found.steps,
        "live_steps": len(live),
        "stale_steps": [s["step"] for s in live if s["stale"]],
        "superseded_steps": [s["step"] for s in found.steps if s["superseded"]],
        "dag": found.graph,
    }


def dag(storage: Storage, caller: Caller, digest: str) -> dict[str, Any] | None:
    """The DAG page: {"hash", "kind", "dag"}: a session's step graph, or the upstream
    of a job or artifact."""
    found = storage.lookup.hash(digest, caller)
    if found is None:
        return None
    kind = found.object_kind
    if kind == "session":
        steps = graph.session_steps(storage, caller, digest)
        return None if steps is None else {"hash": digest, "kind": kind, "dag": steps.graph}
    if kind == "job" and found.job is not None:
        return {"hash": digest, "kind": kind, "dag": graph.upstream(storage, caller, [], [digest])}
    art = found.artifact
    if art and (art.produced_by or art.consumed_by):
        return {
            "hash": digest,
            "kind": "artifact",
            "dag": graph.upstream(storage, caller, [digest], []),
        }
    return None


def _sessions(steps: list[StepRef]) -> list[dict[str, Any]]:
    """One entry per session a job is a step of: link the ref's head if a ref holds it."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for s in steps:
        head = s.head or s.session
        out.setdefault(
            (s.job, head), {"job": s.job, "session": head, "ref": s.ref, "step": f"@{s.step}"}
        )
    return list(out.values())


def _artifact_ref(a: Any) -> dict[str, Any]:
    return {"path": os.fsdecode(a.path), "hash": a.hash, "size": a.size, "kind": a.kind}


def _file_type(paths: list[str], kind: str | None) -> str | None:
    if kind == "tree":
        return "directory (composite)"
    for p in paths:
        ext = os.path.splitext(p)[1].lower()
        if ext in ML_TYPES:
            return ML_TYPES[ext]
        guessed, _ = mimetypes.guess_type(p)
        if guessed and guessed.split("/")[0] in ("text", "image", "audio", "video"):
            return guessed
        if guessed in ("application/json", "application/zip", "application/gzip"):
            return guessed
    ext = {os.path.splitext(p)[1] for p in paths} - {""}
    return ", ".join(sorted(ext)) or None


def _environment(env_id: Any, env: Any, job: Job) -> dict[str, Any] | None:
    if not isinstance(env, Env):
        return None
    read = _packages_read(env, job)
    return {
        "id": env_id,
        "os": _plain(env.os),
        "cpu": _plain(env.cpu),
        "memory": env.memory,
        "gpus": _plain(list(env.gpus)),
        "python": _plain(env.python),
        "packages": [{"name": n, "version": v, "read": n in read} for n, v in env.packages],
    }


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _packages_read(env: Env, job: Job) -> set[str]:
    """Packages of the env whose files the job read: as the job recorded them
    when it ran (roar/capture/packages.py), else from its filtered paths.

    For a job recorded without them the registry has no site-packages to
    consult; a top-level directory under site-packages whose name is the
    distribution's is the evidence then.
    """
    from roar.capture.packages import recorded_packages

    recorded = recorded_packages(job)
    if recorded is not None:
        return {n for n, _ in recorded.pip}
    tops: set[str] = set()
    for path in job.filtered:
        m = _SITE_TOP.search(path)
        if m:
            top = os.fsdecode(m.group(1)).split("-")[0].removesuffix(".py")
            tops.add(_norm(top))
    return {n for n, _ in env.packages if _norm(n) in tops}


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return os.fsdecode(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
