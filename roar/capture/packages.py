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

import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from roar.objects.job import Job

if TYPE_CHECKING:
    from roar.objects.env import Env

_SITE = re.compile(rb"^(.*/(?:site|dist)-packages)/([^/]+)")


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


def job_packages(job: Job, env: Env | None = None, *, local_metadata: bool = True) -> PackagesRead:
    """The packages `job` read: pip distributions with their versions, dpkg packages,
    editable projects.

    As recorded when it ran (`context.packages`), else derived from its `filtered`
    reads and package-file inputs: through this machine's metadata where the site
    directory is here (the tracer's rule), else by module name against the job's
    recorded environment (`env.packages`, the interpreter's whole list at run time),
    whose version wins wherever both know a distribution. Without `local_metadata`
    (a registry: paths a pusher named are not looked up on its disk) only the
    recorded environment is consulted, and no dpkg package is named.
    """
    recorded = recorded_packages(job)
    if recorded is not None:
        return recorded
    paths = [*job.filtered, *(a.path for a in job.inputs if _SITE.match(a.path))]
    listed = list(env.packages) if env is not None else []
    versions = {_normalized(n): v for n, v in listed}
    here = packages_read(paths) if local_metadata else PackagesRead([], [])
    pip = {_normalized(n): (n, versions.get(_normalized(n), v)) for n, v in here.pip}
    for n, v in _by_recorded_names(paths, listed):
        pip.setdefault(_normalized(n), (n, v))
    return PackagesRead(sorted(pip.values()), here.dpkg)


def is_package_file(path: bytes, python_executable: str | None) -> bool:
    """Whether a recorded read is part of the job's Python environment rather than data:
    a file under a site-packages directory, or the `pyvenv.cfg` of the venv whose
    interpreter (`python_executable`, `<venv>/bin/python`) ran the job."""
    if _SITE.match(path):
        return True
    if not python_executable:
        return False
    venv = os.path.dirname(os.path.dirname(os.path.normpath(python_executable)))
    return path == os.fsencode(os.path.join(venv, "pyvenv.cfg"))


def _normalized(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _module_of(top: str, rest: bytes) -> str:
    """The module a file under site-packages belongs to: `six.py` and
    `__pycache__/six.cpython-311.pyc` are `six`, `numpy/...` is `numpy`."""
    if top == "__pycache__":
        top = os.fsdecode(rest.lstrip(b"/").split(b"/", 1)[0]).split(".", 1)[0]
    return top.removesuffix(".py")


def _by_recorded_names(
    paths: list[bytes], recorded: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """Distributions of the recorded environment whose name is the name of a module
    the job read: the evidence left when this machine has no metadata for the site
    directory (the job ran elsewhere, or its venv is gone)."""
    by_name = {_normalized(n): (n, v) for n, v in recorded}
    found: set[tuple[str, str]] = set()
    for p in paths:
        m = _SITE.match(p)
        if not m:
            continue
        top = os.fsdecode(m.group(2))
        if top.endswith((".dist-info", ".egg-info", ".pth")):
            continue  # metadata scanned at start-up is not a package read
        dist = by_name.get(_normalized(_module_of(top, p[m.end() :])))
        if dist is not None:
            found.add(dist)
    return sorted(found)


def packages_read(paths: list[bytes]) -> PackagesRead:
    """The owners of `paths` as this machine has them installed now (empty without
    the tracer binary, which holds the rule)."""
    from roar.capture.tracer import TracerFailed, ask
    from roar.errors import TracerUnavailable

    if not paths:
        return PackagesRead([], [])
    listed = b"".join(p + b"\0" for p in paths if b"\0" not in p)
    try:
        found = ask(["packages-read"], stdin=listed)
    except (TracerUnavailable, TracerFailed):
        return PackagesRead([], [])
    return PackagesRead(_pairs(found.get("pip")), _pairs(found.get("dpkg")))


def dpkg_packages_read(paths: list[bytes]) -> list[tuple[str, str]]:
    """The dpkg packages owning `paths`, as installed here now."""
    return packages_read(paths).dpkg
