"""Which installed distributions (pip) and system packages (dpkg) a job read.

A job's `filtered` list holds the paths it read under system and package
prefixes. Mapping them to packages uses this machine's metadata: a
site-packages directory's `*.dist-info` (top_level.txt, RECORD) and dpkg's
`/var/lib/dpkg/info/*.list` and status file. Versions come from the same
place, so the answer is the packages as installed here now; the job's env
object keeps the full package list as it was at run time.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from roar.objects.env import Env
    from roar.objects.job import Job

_SITE = re.compile(rb"^(.*/(?:site|dist)-packages)/([^/]+)")
_DIST_INFO = re.compile(r"^(?P<name>.+?)-(?P<version>[^-]+)\.(dist|egg)-info$")
DPKG_INFO = Path("/var/lib/dpkg/info")
DPKG_STATUS = Path("/var/lib/dpkg/status")


@dataclass(frozen=True)
class PackagesRead:
    pip: list[tuple[str, str]]
    dpkg: list[tuple[str, str]]


def _top_level_map(site: Path) -> dict[str, tuple[str, str]]:
    """top-level name under a site dir -> (distribution, version)."""
    mapping: dict[str, tuple[str, str]] = {}
    try:
        names = os.listdir(site)
    except OSError:
        return mapping
    for n in names:
        m = _DIST_INFO.match(n)
        if not m:
            continue
        dist = (m.group("name").replace("_", "-").lower(), m.group("version"))
        mapping[n] = dist
        record = site / n / "RECORD"
        try:
            for line in record.read_text(errors="replace").splitlines():
                top = line.split(",", 1)[0].split("/", 1)[0]
                if (
                    top
                    and not top.endswith((".dist-info", ".data"))
                    and top
                    not in (
                        "..",
                        "__pycache__",
                    )
                ):
                    mapping.setdefault(top, dist)
        except OSError:
            try:
                for top in (site / n / "top_level.txt").read_text().split():
                    mapping.setdefault(top, dist)
            except OSError:
                pass
    return mapping


def pip_packages_read(paths: list[bytes]) -> list[tuple[str, str]]:
    maps: dict[bytes, dict[str, tuple[str, str]]] = {}
    found: set[tuple[str, str]] = set()
    for p in paths:
        m = _SITE.match(p)
        if not m:
            continue
        site, top = m.group(1), _module_of(os.fsdecode(m.group(2)), p[m.end() :])
        if site not in maps:
            maps[site] = _top_level_map(Path(os.fsdecode(site)))
        dist = maps[site].get(top) or maps[site].get(top + ".py")
        if dist is not None:
            found.add(dist)
    return sorted(found)


def _dpkg_versions() -> dict[str, str]:
    versions: dict[str, str] = {}
    try:
        text = DPKG_STATUS.read_text(errors="replace")
    except OSError:
        return versions
    for block in text.split("\n\n"):
        name = version = None
        for line in block.splitlines():
            if line.startswith("Package: "):
                name = line[9:].strip()
            elif line.startswith("Version: "):
                version = line[9:].strip()
        if name and version:
            versions[name] = version
    return versions


def dpkg_packages_read(paths: list[bytes]) -> list[tuple[str, str]]:
    wanted = {os.fsdecode(p) for p in paths if not _SITE.match(p)}
    if not wanted or not DPKG_INFO.is_dir():
        return []
    # Resolve through symlinked dirs (/lib -> /usr/lib on merged-/usr systems).
    wanted |= {os.path.realpath(p) for p in wanted}
    owners: set[str] = set()
    for lst in DPKG_INFO.glob("*.list"):
        try:
            for line in lst.read_text(errors="replace").splitlines():
                if line in wanted:
                    owners.add(lst.stem.split(":", 1)[0])
                    break
        except OSError:
            continue
    versions = _dpkg_versions()
    return sorted((o, versions.get(o, "")) for o in owners)


def packages_read(paths: list[bytes]) -> PackagesRead:
    return PackagesRead(pip_packages_read(paths), dpkg_packages_read(paths))


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


def job_packages(job: Job, env: Env | None, *, local_metadata: bool = True) -> PackagesRead:
    """The packages `job` read: pip distributions with their versions, and dpkg packages.

    Derived from the job's `filtered` reads and package-file inputs: through this
    machine's metadata where the site directory is here, else by module name against
    the job's recorded environment (`env.packages`, the interpreter's whole list at
    run time), whose version wins wherever both know a distribution. Without
    `local_metadata` (a registry: paths a pusher named are not looked up on its
    disk) only the recorded environment is consulted, and no dpkg package is named.
    """
    paths = [*job.filtered, *(a.path for a in job.inputs if _SITE.match(a.path))]
    recorded = list(env.packages) if env is not None else []
    versions = {_normalized(n): v for n, v in recorded}
    here = pip_packages_read(paths) if local_metadata else []
    pip = {_normalized(n): (n, versions.get(_normalized(n), v)) for n, v in here}
    for n, v in _by_recorded_names(paths, recorded):
        pip.setdefault(_normalized(n), (n, v))
    dpkg = dpkg_packages_read(list(job.filtered)) if local_metadata else []
    return PackagesRead(sorted(pip.values()), dpkg)
