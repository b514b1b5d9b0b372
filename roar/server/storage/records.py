"""What the registry's reads return: frozen dataclasses, one per shape.

These are the fields of the JSON the API and the pages' twins serve
(docs/protocol.md §5, §8): `to_json()` is that JSON, field for field, so a
field documented here is a field on the wire. Paths are the recorded bytes,
and on the wire the one JSON form of a path (roar/pathjson.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from roar.pathjson import jsonable


def _json(record: Any) -> dict[str, Any]:
    return jsonable(asdict(record))  # type: ignore[no-any-return]


# -- lineage reads (storage/lineage.py) -------------------------------------


@dataclass(frozen=True)
class JobRow:
    """A visible job's index row."""

    job: str
    owner: str | None  # the account that pushed it; None for anonymous
    command: str  # argv joined by spaces, bytes that are not UTF-8 escaped
    type: str  # "run" | "build" | "get" | "put"
    started_ns: int
    ended_ns: int
    exit_code: int
    gpu: str | None  # GPU names of its env, comma-separated

    @property
    def duration_s(self) -> float:
        return round((self.ended_ns - self.started_ns) / 1e9, 3)

    def to_json(self) -> dict[str, Any]:
        return _json(self)


# -- lookup and search (storage/lookup.py) ----------------------------------


@dataclass(frozen=True)
class ArtifactEntry:
    """A job that wrote or read the artifact, and the sessions that ran it."""

    job: str
    path: bytes  # for a file inside a composite: the composite's path, "/", the file's
    size: int
    kind: str
    sessions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ArtifactInfo:
    # first registration, by anyone (existence is global); None for a file known only
    # as a member of a registered composite
    registered_ns: int | None
    produced_by: list[ArtifactEntry]
    consumed_by: list[ArtifactEntry]


@dataclass(frozen=True)
class JobInfo:
    command: str
    type: str
    owner: str | None
    started_ns: int
    ended_ns: int
    exit_code: int
    gpu: str | None
    inputs: list[tuple[bytes, str]]  # (path, hash), sorted
    outputs: list[tuple[bytes, str]]
    sessions: list[str]  # session objects that ran it


@dataclass(frozen=True)
class SessionInfo:
    job: str
    parent: str | None
    step: int
    time_ns: int


@dataclass(frozen=True)
class Lookup:
    """GET /api/v1/lookup/<hash>: everything visible about a hash."""

    hash: str
    object_kind: str | None  # "job", "session", "tree", ... when it is a visible object
    artifact: ArtifactInfo | None  # when it is a registered artifact
    job: JobInfo | None  # when it is a visible job
    session: SessionInfo | None  # when it is a visible session object
    labels: dict[str, str]  # the current labels on it

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"hash": self.hash, "object_kind": self.object_kind}
        for name in ("artifact", "job", "session"):
            value = getattr(self, name)
            if value is not None:
                out[name] = _json(value)
        out["labels"] = dict(self.labels)
        return out


@dataclass(frozen=True)
class SearchFilters:
    """GET /api/v1/search's query; None is no filter."""

    command: str | None = None  # text in the command line
    file: bytes | None = None  # bytes in the path of an input or output
    gpu: str | None = None  # "true" / "false", or text in a GPU name
    file_type: str | None = None  # extension of an input or output
    label: str | None = None  # KEY or KEY=VALUE
    owner: str | None = None
    since: int | None = None  # started at or after, ns
    until: int | None = None  # started at or before, ns

    def any(self) -> bool:
        return any(v is not None for v in _json(self).values())


@dataclass(frozen=True)
class JobHit:
    """One job found by search."""

    job: str
    command: str
    owner: str | None
    started_ns: int
    exit_code: int
    gpu: str | None

    def to_json(self) -> dict[str, Any]:
        return _json(self)


# -- web reads (storage/web.py) ---------------------------------------------


@dataclass(frozen=True)
class SessionHead:
    """The head of a visible session ref (the home page's recent sessions)."""

    session: str
    ref: str
    namespace: str  # `anon` for every anonymous ref: which key pushed it is not shown
    public: bool
    steps: int
    time_ns: int
    last_job: str

    def to_json(self) -> dict[str, Any]:
        return _json(self)


# -- push and fetch (storage/push.py, storage/closure.py) -------------------


@dataclass(frozen=True)
class RefUpdate:
    name: str  # e.g. "sessions/main"
    old: str | None
    new: str


@dataclass(frozen=True)
class PushResult:
    stored: int
    already: int
    ref: RefUpdate | None = None


@dataclass(frozen=True)
class RefHead:
    """A ref whose chain a fetch sends (the Roar-Refs header)."""

    name: str
    target: str
    namespace: str  # as `SessionHead.namespace`

    def to_json(self) -> dict[str, Any]:
        return _json(self)


@dataclass(frozen=True)
class Closure:
    ids: list[str]  # what to send: the closure minus what the client has, sorted
    refs: list[RefHead]
    size: int  # the whole closure, before `have` is taken off


# -- accounts (storage/accounts.py) -----------------------------------------


@dataclass(frozen=True)
class AccountInfo:
    name: str
    keys: int
    deleted: bool

    def to_json(self) -> dict[str, Any]:
        return _json(self)


@dataclass(frozen=True)
class ProjectInfo:
    project: str  # owner/name
    members: list[str]

    def to_json(self) -> dict[str, Any]:
        return _json(self)
