"""What the registry indexes of each pushed object, taken in one pass. Pure: no I/O.

A pack's objects are parsed one at a time and reduced to these records, so
the parsed objects of a pack are never all in memory at once. Every value
bound for an integer column is range-checked here, where a bad one is the
pusher's fault (400), not the database's (500).
"""

from __future__ import annotations

from dataclasses import dataclass

from roar.objects.base import RoarObject
from roar.objects.env import Env
from roar.objects.job import Job, recorded_digests
from roar.objects.label import Label
from roar.objects.session import Session
from roar.objects.tree import Tree
from roar.server.errors import PackRejected

INT64 = (-(2**63), 2**63 - 1)  # BIGINT columns
INT32 = (-(2**31), 2**31 - 1)  # INTEGER columns
MAX_LABEL_KEY = 200  # labels.key is VARCHAR(200)
LABEL_FUTURE_S = 300  # a label's time may run ahead of the server's clock by this much


@dataclass(frozen=True)
class ArtifactUse:
    hash: str
    role: str  # "in" | "out"
    path: bytes  # as recorded: the index keeps paths exact (schema.artifact_jobs)
    size: int
    kind: str  # "file" | "tree"


@dataclass(frozen=True)
class IndexedJob:
    command: str
    type: str
    started_ns: int
    ended_ns: int
    exit_code: int
    env: str | None  # id of its env object, for the GPU names
    artifacts: tuple[ArtifactUse, ...]
    digests: tuple[tuple[str, str, str], ...] = ()  # (algorithm, digest, BLAKE3)


@dataclass(frozen=True)
class IndexedSession:
    job: str
    parent: str | None
    step: int
    step_kind: str
    supersedes: str | None
    time_ns: int


@dataclass(frozen=True)
class IndexedLabel:
    target: str
    labels: tuple[tuple[str, str], ...]  # (key, value as text)
    time_ns: int


@dataclass(frozen=True)
class IndexedEnv:
    gpu: str | None  # GPU names, comma-separated


@dataclass(frozen=True)
class IndexedTree:
    entries: tuple[tuple[str, bytes, int], ...]  # (hash, relpath bytes, size)


Record = IndexedJob | IndexedSession | IndexedLabel | IndexedEnv | IndexedTree | None


def index_text(value: bytes | str) -> str:
    """Recorded bytes or text as a text column of the index holds it (command
    lines, labels, GPU names; paths are kept as bytes).

    Bytes that are not UTF-8 become backslash escapes; NUL, which no
    PostgreSQL text column takes, becomes `\\x00`.
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8", "surrogateescape")
        value = value.encode("utf-8", "backslashreplace").decode()
    return value.replace("\0", "\\x00")


def record_of(oid: str, obj: RoarObject, now_ns: int) -> Record:
    """The index record of a parsed object; raises PackRejected for values out of range."""
    if isinstance(obj, Job):
        return _job(oid, obj)
    if isinstance(obj, Session):
        _fits(oid, "step", obj.step, INT32)
        _fits(oid, "time_ns", obj.time_ns, INT64)
        return IndexedSession(
            obj.job, obj.parent, obj.step, obj.step_kind, obj.supersedes, obj.time_ns
        )
    if isinstance(obj, Label):
        return _label(oid, obj, now_ns)
    if isinstance(obj, Env):
        names = [g.get("name") for g in obj.gpus if isinstance(g, dict)]
        shown = [index_text(n) for n in names if isinstance(n, str) and n]
        return IndexedEnv(", ".join(shown) or None)
    if isinstance(obj, Tree):
        for e in obj.entries:
            _fits(oid, "entry size", e.size, INT64)
        return IndexedTree(tuple((e.hash, e.path, e.size) for e in obj.entries))
    return None


def _job(oid: str, job: Job) -> IndexedJob:
    for name in ("started_ns", "ended_ns"):
        _fits(oid, name, getattr(job, name), INT64)
    _fits(oid, "exit_code", job.exit_code, INT32)
    uses = []
    for role, arts in (("in", job.inputs), ("out", job.outputs)):
        for a in arts:
            _fits(oid, "artifact size", a.size, INT64)
            uses.append(ArtifactUse(a.hash, role, a.path, a.size, a.kind))
    env = job.context.get("env")
    return IndexedJob(
        command=" ".join(index_text(a) for a in job.argv),
        type=job.type,
        started_ns=job.started_ns,
        ended_ns=job.ended_ns,
        exit_code=job.exit_code,
        env=env if isinstance(env, str) else None,
        artifacts=tuple(uses),
        digests=tuple(recorded_digests(job)),
    )


def _label(oid: str, label: Label, now_ns: int) -> IndexedLabel:
    t = label.time_ns
    if type(t) is not int or not 0 <= t <= now_ns + LABEL_FUTURE_S * 10**9:
        raise PackRejected(f"object {oid}: label time_ns {t!r} is not a time up to now")
    pairs = []
    for key, value in label.labels.items():
        if not key or len(key) > MAX_LABEL_KEY:
            raise PackRejected(f"object {oid}: label keys are 1-{MAX_LABEL_KEY} characters")
        if isinstance(value, bool):
            text = "true" if value else "false"
        else:
            if isinstance(value, int):
                _fits(oid, f"label {key}", value, INT64)
            text = str(value)
        pairs.append((index_text(key), index_text(text)))
    return IndexedLabel(label.target, tuple(pairs), t)


def _fits(oid: str, what: str, value: int, bounds: tuple[int, int]) -> None:
    if type(value) is not int or not bounds[0] <= value <= bounds[1]:
        raise PackRejected(f"object {oid}: {what} {value!r} is out of range")
