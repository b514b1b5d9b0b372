"""The git context of a get or put job, read where `roar run` reads it.

Git state is decided in one place, the Rust side (tracer/src/git_state.rs:
git's own status rules, a `git diff HEAD` patch, paths as bytes); Python
asks it through `roar-tracer git-state`. A dirty tree's patch is stored as a
blob in the workspace and named in the map.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from roar.pathjson import from_json


def git_context(cwd: Path, store_dir: Path | None) -> dict[str, Any] | None:
    """The context's `git` map for cwd's repository (None: outside git, before
    the first commit, or without the tracer binary to read it). With `store_dir`,
    a dirty tree's patch is stored there and named; without, nothing is written
    (`roar status` only asks whether the tree is dirty)."""
    from roar.capture.tracer import find_tracer
    from roar.errors import RoarError, TracerUnavailable

    try:
        tracer = find_tracer()
    except TracerUnavailable:
        return None
    proc = subprocess.run(
        [str(tracer), "git-state", *(["--store", str(store_dir)] if store_dir else []), str(cwd)],
        capture_output=True,
        timeout=300,
    )
    if proc.returncode != 0:
        why = proc.stderr.decode(errors="replace").strip()
        raise RoarError(f"cannot read the git state: {why}")
    state = json.loads(proc.stdout)
    if state is None:
        return None
    repo = from_json(state["repo"])
    try:
        state["repo"] = repo.decode("utf-8")
    except UnicodeDecodeError:
        state["repo"] = repo  # a path that is not UTF-8 stays bytes in the job
    return state  # type: ignore[no-any-return]


def current_remote(repo_path: str, commit: str) -> str | None:
    """The git remote the repository at `repo_path` has now (`origin`, else the only
    one), when that repository holds `commit`: a job recorded before `git remote
    add` stored none, but its code is in that remote's repository."""
    from dulwich.errors import NotGitRepository
    from dulwich.repo import Repo

    try:
        repo = Repo(repo_path)
    except (NotGitRepository, OSError):
        return None
    with repo:
        try:
            if commit.encode() not in repo.object_store:
                return None
        except ValueError:
            return None
        config = repo.get_config()
        urls: dict[bytes, bytes] = {}
        for section in config.sections():
            if len(section) == 2 and section[0] == b"remote":
                try:
                    urls[section[1]] = config.get(section, b"url")
                except KeyError:
                    continue
        url = urls.get(b"origin") or (next(iter(urls.values())) if len(urls) == 1 else None)
    return os.fsdecode(url) if url else None
