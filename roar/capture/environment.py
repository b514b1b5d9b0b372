"""The environment snapshot: machine, interpreter and packages, stored once.

Jobs on the same machine and interpreter share one `env` object. Building
it scans the interpreter's site-packages for *.dist-info (no subprocess),
and is cached in `.roar/cache/` keyed on what could change it.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from roar.capture import gpu

if TYPE_CHECKING:
    from roar.objects.env import Env
    from roar.objects.store import ObjectStore

_DIST_INFO = re.compile(r"^(?P<name>.+?)-(?P<version>[^-]+)\.(dist|egg)-info$")


def _cpu_model() -> str:
    import platform

    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 0


def _distro() -> str | None:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return None


def resolve_python(argv: list[str]) -> Path | None:
    """The Python interpreter a command will run, if it starts one we can see."""
    if not argv:
        return None
    first = shutil.which(argv[0]) or argv[0]
    name = os.path.basename(argv[0])
    if re.fullmatch(r"python(\d(\.\d+)?)?", name):
        return Path(first)
    try:
        with open(first, "rb") as f:
            head = f.read(128)
    except OSError:
        return None
    if head.startswith(b"#!"):
        line = head[2:].split(b"\n", 1)[0].decode(errors="replace").split()
        if line and line[0].endswith("/env") and len(line) > 1:
            line = line[1:]
        if line and re.fullmatch(r"python(\d(\.\d+)?)?", os.path.basename(line[0])):
            return Path(shutil.which(line[0]) or line[0])
    return None


_PROBE = (
    "import json, site, sys;"
    "print(json.dumps({'version': '%d.%d.%d' % sys.version_info[:3],"
    " 'executable': sys.executable, 'paths': site.getsitepackages()}))"
)


def probe_python(python: Path, cache_dir: Path | None) -> dict[str, Any] | None:
    """Version, real executable and site-packages of an interpreter.

    Asked of the interpreter itself (wrappers such as pyenv shims hide it),
    once per interpreter file: the answer is cached on its path and mtime.
    """
    import json
    import subprocess

    try:
        st = os.stat(python)
    except OSError:
        return None
    key = f"{os.path.abspath(python)}:{st.st_mtime_ns}:{st.st_size}"
    cache = (cache_dir / "python-probe.json") if cache_dir else None
    known: dict[str, Any] = {}
    if cache is not None:
        try:
            known = json.loads(cache.read_text())
        except (OSError, ValueError):
            known = {}
        if key in known:
            return known[key]  # type: ignore[no-any-return]
    try:
        out = subprocess.run(
            [str(python), "-I", "-c", _PROBE], capture_output=True, text=True, timeout=30
        )
        info = json.loads(out.stdout)
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None
    if cache is not None:
        from roar.atomic import write_atomic

        known[key] = info
        try:
            write_atomic(cache, json.dumps(known).encode(), fsync=False)
        except OSError:
            pass
    return info  # type: ignore[no-any-return]


def installed_packages(dirs: list[Path]) -> list[tuple[str, str]]:
    packages: dict[str, str] = {}
    for d in dirs:
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for n in names:
            m = _DIST_INFO.match(n)
            if m:
                packages.setdefault(m.group("name").replace("_", "-").lower(), m.group("version"))
    return sorted(packages.items())


def snapshot(argv: list[str], cache_dir: Path | None = None) -> Env:
    python = resolve_python(argv)
    return _snapshot(probe_python(python, cache_dir) if python is not None else None)


def _snapshot(info: dict[str, Any] | None) -> Env:
    from roar.objects.env import Env

    py_info = None
    packages: list[tuple[str, str]] = []
    if info is not None:
        packages = installed_packages([Path(p) for p in info["paths"]])
        py_info = {"version": info["version"], "executable": os.fsencode(info["executable"])}
    import platform

    return Env(
        os={"system": platform.system(), "release": platform.release(), "distro": _distro()},
        cpu={"model": _cpu_model(), "cores": os.cpu_count() or 1},
        memory=_memory(),
        gpus=tuple(gpu.inventory()),
        python=py_info,
        packages=tuple(packages),
    )


def write_snapshot(argv: list[str], store: ObjectStore) -> str:
    """Store (once) the env object for a run of argv; returns its id.

    The snapshot is remembered under what could change it (interpreter,
    its site-packages directories' mtimes, kernel, core count), so a run
    on an unchanged machine pays a few stat calls, not a rescan.
    """
    import json

    from roar.atomic import write_atomic

    cache_dir = store.root.parent / "cache"
    python = resolve_python(argv)
    info = probe_python(python, cache_dir) if python is not None else None
    key_parts: list[Any] = [
        os.uname().release,
        os.cpu_count(),
        info and info["executable"],
        gpu.driver_stamp(),
    ]
    for d in info["paths"] if info else []:
        try:
            key_parts.append(os.stat(d).st_mtime_ns)
        except OSError:
            key_parts.append(None)
    key = json.dumps(key_parts)
    cache = cache_dir / "env-snapshots.json"
    try:
        known = json.loads(cache.read_text())
    except (OSError, ValueError):
        known = {}
    oid = known.get(key)
    if oid and store.contains(oid):
        return str(oid)
    oid = store.write(_snapshot(info))
    known[key] = oid
    try:
        write_atomic(cache, json.dumps(known).encode(), fsync=False)
    except OSError:
        pass
    return oid
