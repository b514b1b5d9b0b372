"""Everything a reproduction writes stays inside its directory.

The plan comes from recorded lineage, which may come from a registry: a
patch path with `..`, an absolute path, a deletion of `../../victim`, a get
input at `/etc/x`, an input at `<repo>/../../x` must not make `roar
reproduce --run -y` write or delete anywhere else. The plan lists what would
not stay inside (`outside`), the run refuses to start while that list is not
empty, and every write goes through `safe_path`, which also refuses a path
that a symlink inside the directory would lead out of it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from roar.display import printable
from roar.errors import ReproduceError

if TYPE_CHECKING:
    from roar.reproduce.plan import PlannedStep, RootInput, Source


def relative_inside(rel: bytes) -> bool:
    """Whether a path relative to the reproduction directory stays inside it (lexically).

    Refused too: the directory itself, and anything under `.git/` (a hook
    written there would run the next time someone uses git in it).
    """
    if not rel or rel.startswith(b"/") or b"\0" in rel:
        return False
    normal = os.path.normpath(rel)
    first = normal.split(b"/")[0]
    return normal != b"." and first not in (b"..", b".git")


def under(repo: str, recorded: bytes) -> bytes | None:
    """`recorded` relative to the recorded repository, or None when it is not under it."""
    root = os.fsencode(repo.rstrip("/"))
    if recorded == root:
        return b"."
    if recorded.startswith(root + b"/"):
        return recorded[len(root) + 1 :]
    return None


def safe_path(directory: Path, rel: bytes) -> Path:
    """`directory / rel`, refused (ReproduceError) unless it stays inside, symlinks followed."""
    if not relative_inside(rel):
        raise ReproduceError(f"refused: {printable(rel)} is not inside {directory}")
    path = directory / os.fsdecode(rel)
    real_root = os.path.realpath(directory)
    real_parent = os.path.realpath(path.parent)
    if real_parent != real_root and not real_parent.startswith(real_root + os.sep):
        raise ReproduceError(
            f"refused: {printable(rel)} leads out of {directory} through a symbolic link"
        )
    if path.is_symlink():
        raise ReproduceError(f"refused: {printable(rel)} is a symbolic link in {directory}")
    return path


def outside(
    source: Source | None,
    steps: list[PlannedStep],
    inputs: list[RootInput],
    patch: bytes | None,
) -> list[str]:
    """What the plan would write, delete or run outside the reproduction directory."""
    out: list[str] = []
    if patch is not None:
        from roar.reproduce.checkout import patch_files

        try:
            files = patch_files(patch)
        except ReproduceError:
            files = []  # a patch that cannot apply stops the run before it writes anything
        for old, new in files:
            for verb, path in (("writes", new), ("deletes" if new is None else "", old)):
                if verb and path is not None and not relative_inside(path):
                    out.append(f"the recorded patch {verb} {printable(path)}")
    repo = source.repo if source is not None else None
    for ri in inputs:
        target = ri.getter.path if ri.status == "obtainable" and ri.getter else ri.path
        rel = under(repo, target) if repo else None
        if rel is not None:
            if not relative_inside(rel):
                out.append(f"input {printable(target)} would be placed outside the directory")
        elif not (ri.status == "available" and ri.found == Path(os.fsdecode(target))):
            out.append(
                f"input {printable(target)} is outside the repository: placing it would write "
                "there, outside the directory (put a copy at that path, or record it inside)"
            )
    for step in steps:
        rel = under(repo, step.cwd) if repo else None
        if rel is None or (rel != b"." and not relative_inside(rel)):
            out.append(f"step {step.label} runs in {printable(step.cwd)}, outside the directory")
    return out
