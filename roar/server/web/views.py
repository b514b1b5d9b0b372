"""The data of each page: one function per page, returning its JSON twin.

The HTML page renders exactly this dict; /api/v1 serves it as JSON. A
function returns None when the caller may not see the thing, and both
twins answer 404 then: what a visitor may not see is not in the HTML.
"""

from __future__ import annotations

import mimetypes
import os
from typing import Any

from roar.display import printable
from roar.errors import Ambiguous
from roar.errors import NotFound as RoarNotFound
from roar.lineage.producers import Facts, producer_of
from roar.lineage.resolve import MAX_LISTED, Resolver, Target, is_hash_text, split_digest
from roar.lineage.views import job_views
from roar.objects.base import is_id
from roar.objects.blob import Blob
from roar.objects.env import Env
from roar.objects.job import Job
from roar.server.errors import BadRequest
from roar.server.scope import Caller, shown_ref_namespace
from roar.server.storage import Storage
from roar.server.storage.lineage import RegistrySource, split_ref
from roar.server.storage.records import ArtifactEntry
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


def resolve(storage: Storage, caller: Caller, text: str) -> dict[str, Any]:
    """What a pasted hash or prefix names, by the one resolver (docs/lineage.md §7):
    {"matches": [{"hash", "kind", "object_kind"}], "message"}. One match: resolved;
    several: ambiguous, the candidates listed; none: `message` says what was tried.
    Raises BadRequest for text that is not 8 to 64 hex digits."""
    text = text.strip()
    resolver = _resolver(storage.source(caller))
    if not is_hash_text(text):
        raise BadRequest(_message(resolver, text))
    found = resolver.hashes(text)
    message = None if len(found) == 1 else _message(resolver, text)
    return {"matches": [_match(t) for t in found[:MAX_LISTED]], "message": message}


def _resolver(source: RegistrySource) -> Resolver:
    # The registry has no active session and names no session by text: hashes only.
    return Resolver(source, "", lambda _name: None)


def _message(resolver: Resolver, text: str) -> str:
    try:
        resolver.resolve_hash(text)
    except (Ambiguous, RoarNotFound) as e:
        return str(e)
    return ""


def _match(target: Target) -> dict[str, Any]:
    return {"hash": target.id, "kind": target.kind, "object_kind": target.object_kind}


def home(storage: Storage, caller: Caller) -> dict[str, Any]:
    """{"recent_sessions": [SessionHead]} (storage/records.py)."""
    return {"recent_sessions": [h.to_json() for h in storage.web.recent_sessions(caller)]}


def lookup(storage: Storage, caller: Caller, text: str) -> dict[str, Any] | None:
    """GET /api/v1/lookup: `Lookup.to_json()`, an artifact's `produced_by` led by its
    `producer`, the job the rules choose (docs/lineage.md §4), as `roar show` does.

    `text` is a full hash (an object id or BLAKE3, which come first), or a file's
    other digest as the resolver reads one (a full md5/sha256/sha512, `sha256:<hex>`):
    then the answer is the artifact's, with `named_by` saying which digest found it.
    Raises BadRequest when such a digest names several artifacts."""
    found = storage.lookup.hash(text, caller) if is_id(text) else None
    named_by = None
    if found is None:
        hits = [t for t in _resolver(storage.source(caller)).hashes(text) if t.algorithm]
        if len(hits) > 1:
            raise BadRequest(Resolver._several(text, hits))
        if not hits:
            return None
        named_by = {"algorithm": hits[0].algorithm, "digest": split_digest(text)[1]}
        found = storage.lookup.hash(hits[0].id, caller)
        if found is None:
            return None
    digest = found.hash
    out = found.to_json()
    if named_by:
        out["named_by"] = named_by
    if found.artifact is not None:
        out["artifact"]["digests"] = storage.lookup.digests(digest, caller)
        source = storage.source(caller)
        source.know_writers(digest, {e.job for e in found.artifact.produced_by})
        producer = producer_of(source, digest)
        out["artifact"]["producer"] = _job_ref(source, producer) if producer else None
        out["artifact"]["produced_by"].sort(key=lambda e: e["job"] != producer)
    return out


def artifact(storage: Storage, caller: Caller, digest: str) -> dict[str, Any] | None:
    """The artifact page: hash, registered_ns, visible, digests, size, kind, type, paths,
    labels, producer (the rules' choice: job, command, exit_code, started_ns, step,
    session, ref, namespace, superseded), produced_by (every writer, the producer
    first) and consumed_by ([{"job", "path", "command", "exit_code", "started_ns"}]),
    sessions (where the producer is a step), reproduce (the command), dag (upstream)."""
    found = storage.lookup.hash(digest, caller)
    if found is None or found.artifact is None:
        return None
    art = found.artifact
    source = storage.source(caller)
    entries = art.produced_by + art.consumed_by
    visible = bool(entries)
    lin = graph.lineage_of(source, [digest]) if visible else None
    producer = lin.produced_by.get(digest) if lin else None
    rows = source.job_rows({e.job for e in entries})
    paths = sorted({e.path for e in entries})
    kind = entries[0].kind if entries else None

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
        return sorted(out.values(), key=lambda j: (j["job"] != producer, j["started_ns"] or 0))

    return {
        "hash": digest,
        "registered_ns": art.registered_ns,
        "visible": visible,
        "digests": storage.lookup.digests(digest, caller),
        "size": entries[0].size if entries else None,
        "kind": kind,
        "type": _file_type(paths, kind),
        "paths": paths,
        "labels": found.labels,
        "producer": _job_ref(source, producer) if producer else None,
        "produced_by": jobs(art.produced_by),
        "consumed_by": jobs(art.consumed_by),
        "sessions": _sessions(source, [producer] if producer else []),
        "reproduce": f"roar reproduce {digest}",
        "dag": graph.upstream_graph(lin, [digest]) if lin else None,
    }


def job(storage: Storage, caller: Caller, job_id: str) -> dict[str, Any] | None:
    """The job page: job, type, command (argv), cwd, exit_code, signal, interrupted,
    started_ns, ended_ns, duration_s, git (with patch_text), environment, env_vars,
    inputs, outputs, labels, sessions, dag."""
    source = storage.source(caller)
    obj = source.jobs([job_id], context=True).get(job_id)
    if obj is None:
        return None
    git = dict(obj.context.get("git") or {})
    env_id = obj.context.get("env")
    refs = [r for r in (git.get("patch"), env_id) if isinstance(r, str)]
    extra = source.objects(refs) if refs else {}
    patch = extra.get(git.get("patch")) if isinstance(git.get("patch"), str) else None
    if isinstance(patch, Blob):
        git["patch_text"] = patch.data[:MAX_PATCH_BYTES].decode("utf-8", "replace")
        git["patch_truncated"] = len(patch.data) > MAX_PATCH_BYTES
    env = extra.get(env_id) if isinstance(env_id, str) else None
    looked = storage.lookup.hash(job_id, caller)
    lin = graph.lineage_of(source, jobs=[job_id])
    return {
        "job": job_id,
        "type": obj.type,
        "command": list(obj.argv),  # bytes, as recorded: pages escape them when shown
        "cwd": obj.cwd,
        "exit_code": obj.exit_code,
        "signal": obj.signal,
        "interrupted": obj.interrupted,
        "started_ns": obj.started_ns,
        "ended_ns": obj.ended_ns,
        "duration_s": round(obj.duration_ns / 1e9, 3),
        "git": _plain(git) or None,
        "environment": _environment(env_id, env, obj),
        "env_vars": [[k, v] for k, v in obj.context.get("env_vars", [])],
        "inputs": [_artifact_ref(a) for a in obj.inputs],
        "outputs": [_artifact_ref(a) for a in obj.outputs],
        "labels": looked.labels if looked else {},
        "sessions": _sessions(source, [job_id]),
        "dag": graph.upstream_graph(lin, jobs=[job_id]),
    }


def session(storage: Storage, caller: Caller, session_id: str) -> dict[str, Any] | None:
    """The session page, as of session object `session_id` (any step's, not only a
    head's): session, steps (graph.session_steps), live_steps, stale_steps,
    superseded_steps, dag."""
    found = graph.session_steps(storage.source(caller), session_id)
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
    source = storage.source(caller)
    if kind == "session":
        steps = graph.session_steps(source, digest)
        return None if steps is None else {"hash": digest, "kind": kind, "dag": steps.graph}
    if kind == "job" and found.job is not None:
        lin = graph.lineage_of(source, jobs=[digest])
        return {"hash": digest, "kind": kind, "dag": graph.upstream_graph(lin, jobs=[digest])}
    art = found.artifact
    if art and (art.produced_by or art.consumed_by):
        lin = graph.lineage_of(source, [digest])
        return {"hash": digest, "kind": "artifact", "dag": graph.upstream_graph(lin, [digest])}
    return None


def shown_ref(ref: str) -> dict[str, str]:
    """A source ref as pages show it: {"ref": "sessions/main", "namespace"}, where an
    anonymous pusher's namespace is `anon` (scope.shown_ref_namespace)."""
    ref_ns, name = split_ref(ref)
    return {"ref": name, "namespace": shown_ref_namespace(ref_ns)}


def _job_ref(source: RegistrySource, job_id: str) -> dict[str, Any]:
    """A job as a page links it: its command and where it is a step (live first)."""
    facts = Facts(source)
    view = job_views(facts, [job_id], None).get(job_id)
    out: dict[str, Any] = {"job": job_id, "step": None, "session": None, "superseded": False}
    if view is None:
        return out
    out.update(command=graph.command(view.job), exit_code=view.job.exit_code,
               started_ns=view.job.started_ns)  # fmt: skip
    if view.placement is not None:
        step = view.placement.step
        out.update(step=step.label, session=step.session_object, superseded=step.superseded,
                   **shown_ref(view.placement.ref))  # fmt: skip
    return out


def _sessions(source: RegistrySource, jobs: list[str]) -> list[dict[str, Any]]:
    """Where jobs are steps: the ref's session (its head: the session as it is now),
    the step, and whether a later step re-ran it."""
    placed = source.placements(jobs)
    heads = source.heads(p.ref for ps in placed.values() for p in ps)
    return [
        {"job": j, "session": heads.get(p.ref, p.step.session_object),
         "session_object": p.step.session_object, "step": p.step.label,
         "superseded": p.step.superseded, **shown_ref(p.ref)}
        for j in jobs
        for p in placed.get(j, [])
    ]  # fmt: skip


def _artifact_ref(a: Any) -> dict[str, Any]:
    return {"path": a.path, "hash": a.hash, "size": a.size, "kind": a.kind}


def _file_type(paths: list[bytes], kind: str | None) -> str | None:
    if kind == "tree":
        return "directory (composite)"
    for p in map(os.fsdecode, paths):
        ext = os.path.splitext(p)[1].lower()
        if ext in ML_TYPES:
            return ML_TYPES[ext]
        guessed, _ = mimetypes.guess_type(p)
        if guessed and guessed.split("/")[0] in ("text", "image", "audio", "video"):
            return guessed
        if guessed in ("application/json", "application/zip", "application/gzip"):
            return guessed
    ext = {os.path.splitext(os.fsdecode(p))[1] for p in paths} - {""}
    return printable(", ".join(sorted(ext))) or None  # a name's odd bytes, escaped


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


def _packages_read(env: Env, job: Job) -> set[str]:
    """Packages of the env whose files the job read (roar.capture.packages, the one
    home of that answer), from the recorded facts only: the registry never looks at
    its own disk for paths a pusher named."""
    from roar.capture.packages import job_packages

    return {n for n, _ in job_packages(job, env, local_metadata=False).pip}


def _plain(value: Any) -> Any:
    # Bytes stay bytes (a repository path may be any bytes): the JSON twin writes
    # them in the one path form, the page escapes them as it shows them.
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
