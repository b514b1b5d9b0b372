"""The packages a job read: pip distributions, dpkg packages, editable projects.

The one place the rest of roar (show, reproduce, the web pages) gets them.
A job recorded by `roar run` carries them in `context.packages`, decided
when it ran on the machine it ran on (tracer/src/packages.rs, the one rule
that maps a read path to its owner; docs/object-format.md §3). A job
recorded before that field existed has them derived here from its
`filtered` paths by the same rule through `roar-tracer packages-read`,
with this machine's metadata: the packages as installed here now.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from typing import Any

from roar.objects.job import Job


@dataclass(frozen=True)
class Code:
    """An editable install (`pip install -e`) whose project the job read."""

    name: str
    version: str
    path: bytes
    repo: str | bytes | None = None  # the project's work tree
    remote: str | None = None
    commit: str | None = None
    dirty: bool = False

    def to_json(self) -> dict[str, Any]:
        import os

        repo = os.fsdecode(self.repo) if isinstance(self.repo, bytes) else self.repo
        return {
            "name": self.name,
            "version": self.version,
            "path": os.fsdecode(self.path),
            "repo": repo,
            "remote": self.remote,
            "commit": self.commit,
            "dirty": self.dirty,
        }


@dataclass(frozen=True)
class PackagesRead:
    pip: list[tuple[str, str]]
    dpkg: list[tuple[str, str]]
    code: list[Code] = field(default_factory=list)
    # True: recorded when the job ran; False: derived on this machine now.
    recorded: bool = False


def _pairs(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        return []
    return sorted(
        (str(p[0]), str(p[1])) for p in value if isinstance(p, (list, tuple)) and len(p) == 2
    )


def _code(entry: Any) -> Code | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), bytes):
        return None
    git = entry.get("git") if isinstance(entry.get("git"), dict) else {}
    return Code(
        name=str(entry.get("name", "")),
        version=str(entry.get("version", "")),
        path=entry["path"],
        repo=git.get("repo"),
        remote=git.get("remote"),
        commit=git.get("commit"),
        dirty=bool(git.get("dirty", False)),
    )


def recorded_packages(job: Job) -> PackagesRead | None:
    """What the job recorded when it ran; None for a job recorded without it."""
    value = job.context.get("packages")
    if not isinstance(value, dict):
        return None
    code = [c for c in map(_code, value.get("code") or []) if c is not None]
    return PackagesRead(_pairs(value.get("pip")), _pairs(value.get("dpkg")), code, True)


def job_packages(job: Job) -> PackagesRead:
    """The packages `job` read: as recorded, else derived here from its filtered paths."""
    return recorded_packages(job) or packages_read(list(job.filtered))


def packages_read(paths: list[bytes]) -> PackagesRead:
    """The owners of `paths` as this machine has them installed now (empty without
    the tracer binary, which holds the rule)."""
    from roar.capture.tracer import find_tracer
    from roar.errors import TracerUnavailable

    if not paths:
        return PackagesRead([], [])
    try:
        tracer = find_tracer()
    except TracerUnavailable:
        return PackagesRead([], [])
    proc = subprocess.run(
        [str(tracer), "packages-read"],
        input=b"".join(p + b"\0" for p in paths if b"\0" not in p),
        capture_output=True,
        timeout=300,
    )
    if proc.returncode != 0:
        return PackagesRead([], [])
    found = json.loads(proc.stdout)
    return PackagesRead(_pairs(found.get("pip")), _pairs(found.get("dpkg")))


def dpkg_packages_read(paths: list[bytes]) -> list[tuple[str, str]]:
    """The dpkg packages owning `paths`, as installed here now."""
    return packages_read(paths).dpkg
