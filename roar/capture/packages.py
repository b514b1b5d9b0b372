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
                if top and not top.endswith((".dist-info", ".data")) and top != "..":
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
        site, top = m.group(1), os.fsdecode(m.group(2))
        if site not in maps:
            maps[site] = _top_level_map(Path(os.fsdecode(site)))
        dist = maps[site].get(top)
        if dist is None and top.endswith(".py"):
            dist = maps[site].get(top[:-3])
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
