"""Which paths are not artifacts: system files, installed packages, caches, temp.

The tracer records reads under these prefixes in a job's `filtered` list
(paths only), so packages read can still be named, but never as artifacts.
"""

from __future__ import annotations

import os
import site
import sys
import tempfile
from pathlib import Path

from roar.config import Config

ALWAYS = ["/proc", "/sys", "/dev"]
SYSTEM = [
    "/usr",
    "/lib",
    "/lib32",
    "/lib64",
    "/bin",
    "/sbin",
    "/etc",
    "/run",
    "/var/lib",
    "/var/cache",
    "/opt",
]
TORCH_CACHE = ["~/.cache/torch", "~/.cache/triton", "~/.triton", "~/.nv"]


def ignore_prefixes(config: Config, workspace_root: Path) -> list[str]:
    prefixes = list(ALWAYS)
    if config.get("filters.ignore_system_reads"):
        prefixes += SYSTEM
    if config.get("filters.ignore_package_reads"):
        prefixes += [
            sys.prefix,
            sys.base_prefix,
            *site.getsitepackages(),
            "~/.pyenv",
            "~/.local/lib",
        ]
    if config.get("filters.ignore_torch_cache"):
        prefixes += TORCH_CACHE
    if config.get("filters.ignore_tmp_files"):
        prefixes += ["/tmp", "/var/tmp", tempfile.gettempdir()]
    prefixes.append(str(workspace_root / ".roar"))
    root = str(workspace_root.resolve())
    result: list[str] = []
    for p in prefixes:
        p = os.path.realpath(os.path.expanduser(p))
        # The workspace itself is never filtered, even inside /tmp or a venv.
        if root == p or root.startswith(p.rstrip("/") + "/"):
            if p != str(workspace_root.resolve() / ".roar"):
                continue
        if p not in result:
            result.append(p)
    return result


_GLOB_CHARS = set("*?[")


def project_patterns(config: Config, workspace_root: Path) -> tuple[list[str], list[str]]:
    """(prefixes, globs) from `filters.ignore_patterns`, made absolute.

    A pattern without wildcards is a path under the workspace (a file or a
    whole directory); `*.log` matches at any depth; `logs/*.txt` is
    anchored at the workspace root, as in .gitignore.
    """
    root = str(workspace_root.resolve())
    prefixes: list[str] = []
    globs: list[str] = []
    for raw in config.get("filters.ignore_patterns") or []:
        pattern = str(raw).strip()
        if not pattern or pattern.startswith("#"):
            continue
        anchored = "/" in pattern.strip("/")
        pattern = pattern.strip("/")
        if not _GLOB_CHARS & set(pattern):
            prefixes.append(f"{root}/{pattern}")
        elif anchored:
            globs.append(f"{root}/{pattern}")
        else:
            globs.append(f"{root}/**/{pattern}")
    return prefixes, globs
