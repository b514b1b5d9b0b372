"""Job: one recorded command, its inputs and outputs by content hash.

Written by the tracer (Rust) for run and build jobs and by Python for get
and put jobs; both follow docs/object-format.md byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from roar.objects.base import CborObject, check_id

JOB_TYPES = ("run", "build", "get", "put")
ARTIFACT_KINDS = ("file", "tree")
# Extra digests an artifact may carry beside its BLAKE3 (docs/object-format.md),
# by name, with their length in hex digits. The one list: the tracer's
# `Algo` (tracer/src/hash.rs) computes the same three.
DIGEST_ALGORITHMS: dict[str, int] = {"md5": 32, "sha256": 64, "sha512": 128}
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class ArtifactRef:
    path: bytes
    hash: str
    size: int
    kind: str = "file"
    # (algorithm, lowercase hex) pairs sorted by algorithm: md5, sha256, sha512.
    digests: tuple[tuple[str, str], ...] = ()

    def to_value(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "path": self.path,
            "hash": self.hash,
            "size": self.size,
            "kind": self.kind,
        }
        if self.digests:
            value["digests"] = dict(self.digests)
        return value

    def digest(self, algorithm: str) -> str | None:
        """The recorded hex digest of `algorithm` (blake3: the hash), or None."""
        if algorithm == "blake3":
            return self.hash if self.kind == "file" else None
        return dict(self.digests).get(algorithm)

    @classmethod
    def from_value(cls, v: dict[str, Any]) -> ArtifactRef:
        if not isinstance(v["path"], bytes) or type(v["size"]) is not int or v["size"] < 0:
            raise ValueError("artifact path must be bytes and size a non-negative int")
        if v["kind"] not in ARTIFACT_KINDS:
            raise ValueError(f"unknown artifact kind {v['kind']!r}")
        digests = v.get("digests")
        return cls(
            v["path"],
            check_id(v["hash"], "artifact hash"),
            v["size"],
            v["kind"],
            () if digests is None else _digests(digests),
        )


def _digests(value: Any) -> tuple[tuple[str, str], ...]:
    """A `digests` map checked: known algorithms with lowercase hex of their length."""
    if not isinstance(value, dict) or not value:
        raise ValueError("artifact digests must be a non-empty map")
    for algorithm, digest in value.items():
        want = DIGEST_ALGORITHMS.get(algorithm)
        if want is None:
            raise ValueError(f"unknown digest algorithm {algorithm!r}")
        if not _is_hex(digest, want):
            raise ValueError(f"{algorithm} digest must be {want} lowercase hex digits")
    return tuple(sorted(value.items()))


@dataclass(frozen=True)
class Job(CborObject):
    kind = "job"
    type: str
    argv: tuple[bytes, ...]
    cwd: bytes
    started_ns: int
    ended_ns: int
    exit_code: int
    signal: int | None = None
    interrupted: bool = False
    inputs: tuple[ArtifactRef, ...] = ()
    outputs: tuple[ArtifactRef, ...] = ()
    filtered: tuple[bytes, ...] = ()
    context: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.type not in JOB_TYPES:
            raise ValueError(f"unknown job type {self.type!r}")
        for name in ("inputs", "outputs"):
            paths = [a.path for a in getattr(self, name)]
            if paths != sorted(paths):
                raise ValueError(f"job {name} must be sorted by path")

    def references(self) -> list[str]:
        refs = [a.hash for a in (*self.inputs, *self.outputs) if a.kind == "tree"]
        env = self.context.get("env")
        if isinstance(env, str):
            refs.append(env)
        git = self.context.get("git")
        if isinstance(git, dict) and isinstance(git.get("patch"), str):
            refs.append(git["patch"])
        return refs

    @property
    def duration_ns(self) -> int:
        return self.ended_ns - self.started_ns

    def to_value(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "argv": list(self.argv),
            "cwd": self.cwd,
            "started_ns": self.started_ns,
            "ended_ns": self.ended_ns,
            "exit_code": self.exit_code,
            "signal": self.signal,
            "interrupted": self.interrupted,
            "inputs": [a.to_value() for a in self.inputs],
            "outputs": [a.to_value() for a in self.outputs],
            "filtered": list(self.filtered),
            "context": self.context,
        }

    @classmethod
    def from_value(cls, v: dict[str, Any]) -> Job:
        if not all(isinstance(a, bytes) for a in v["argv"]) or not isinstance(v["cwd"], bytes):
            raise ValueError("argv and cwd must be bytes")
        if not isinstance(v["context"], dict):
            raise ValueError("context must be a map")
        return cls(
            type=v["type"],
            argv=tuple(v["argv"]),
            cwd=v["cwd"],
            started_ns=_int(v["started_ns"]),
            ended_ns=_int(v["ended_ns"]),
            exit_code=_int(v["exit_code"]),
            signal=None if v["signal"] is None else _int(v["signal"]),
            interrupted=bool(v["interrupted"]),
            inputs=tuple(ArtifactRef.from_value(a) for a in v["inputs"]),
            outputs=tuple(ArtifactRef.from_value(a) for a in v["outputs"]),
            filtered=tuple(v["filtered"]),
            context=v["context"],
        )


def recorded_digests(job: Job) -> list[tuple[str, str, str]]:
    """(algorithm, digest, BLAKE3) of every extra digest `job` records: its artifacts'
    `digests`, and those an import from roar-cli kept in `context.imported.digests`
    (docs/roar-cli-compat.md), checked as an artifact's are."""
    rows = {
        (algorithm, digest, a.hash)
        for a in (*job.inputs, *job.outputs)
        for algorithm, digest in a.digests
    }
    imported = job.context.get("imported")
    kept = imported.get("digests") if isinstance(imported, dict) else None
    for blake3, digests in kept.items() if isinstance(kept, dict) else ():
        if not (_is_hex(blake3, 64) and isinstance(digests, dict)):
            continue
        for algorithm, digest in digests.items():
            length = DIGEST_ALGORITHMS.get(algorithm) if isinstance(algorithm, str) else None
            if length and _is_hex(digest, length):
                rows.add((algorithm, digest, blake3))
    return sorted(rows)


def _is_hex(value: Any, length: int) -> bool:
    return isinstance(value, str) and len(value) == length and set(value) <= _HEX


def _int(x: Any) -> int:
    if type(x) is not int:
        raise ValueError(f"expected an integer, got {x!r}")
    return x
