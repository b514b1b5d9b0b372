"""The git context of a get or put job, and whether a commit is pushed, read
where `roar run` reads them.

Git state is decided in one place, the Rust side (tracer/src/git_state.rs:
git's own status rules, a `git diff HEAD` patch, paths as bytes; the walk of
the remote-tracking branches that `roar run` warns with); Python asks it
through `roar-tracer git-state` and `roar-tracer remote-branch`. A dirty
tree's patch is stored as a blob in the workspace and named in the map.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from roar.pathjson import from_json


def git_context(cwd: Path, store_dir: Path | None) -> dict[str, Any] | None:
    """The context's `git` map for cwd's repository (None: outside git, before
    the first commit, or without the tracer binary to read it). With `store_dir`,
    a dirty tree's patch is stored there and named; without, nothing is written
    (`roar status` only asks whether the tree is dirty)."""
    from roar.capture.tracer import TracerFailed, ask
    from roar.errors import RoarError, TracerUnavailable

    store = ["--store", str(store_dir)] if store_dir else []
    try:
        state = ask(["git-state", *store, str(cwd)])
    except TracerUnavailable:
        return None
    except TracerFailed as e:
        raise RoarError(f"cannot read the git state: {e}") from None
    if state is None:
        return None
    repo = from_json(state["repo"])
    try:
        state["repo"] = repo.decode("utf-8")
    except UnicodeDecodeError:
        state["repo"] = repo  # a path that is not UTF-8 stays bytes in the job
    return state  # type: ignore[no-any-return]


def remote_branch_holding(repo: str, commit: str) -> str | Literal[False] | None:
    """The remote-tracking branch (`origin/main`) whose history holds `commit` in the
    repository at `repo`; False when none does (never pushed, as far as git last heard
    from its remotes); None when that cannot be told (no repository, a commit it lacks,
    a history past the walk's bound, no tracer binary). Offline: the refs git fetched.

    The rule is `roar run`'s (tracer/src/git_state.rs `remote_branch_holding`), asked
    of the binary, so the run's warning and `roar register`'s checklist agree."""
    from roar.capture.tracer import TracerFailed, ask
    from roar.errors import TracerUnavailable

    try:
        answer = ask(["remote-branch", commit, repo])
    except (TracerUnavailable, TracerFailed):
        return None
    if answer is None:
        return None
    branch = answer["branch"]
    return branch if isinstance(branch, str) else False


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


def missing_on_checkout(repo: str | None, commit: str | None, paths: list[bytes]) -> list[bytes]:
    """The `paths` (absolute) whose directory a clean checkout of `repo` at `commit`
    would not create: a directory outside the repository, or one in it that holds no
    file of that commit (git records files, never empty or ignored directories).
    Order kept. Without a repository (`repo` None, or one this machine cannot read at
    `commit`) every path is outside one.

    `roar status --untracked-dirs` (roar-cli's option) lists these outputs.
    """
    from dulwich.errors import NotGitRepository
    from dulwich.object_store import tree_lookup_path
    from dulwich.repo import Repo

    if repo is None or commit is None:
        return list(paths)
    prefix = os.fsencode(repo).rstrip(b"/") + b"/"
    try:
        with Repo(repo) as r:
            if commit.encode() not in r.object_store:
                return list(paths)
            tree = r[commit.encode()].tree  # type: ignore[attr-defined]
            known: dict[bytes, bool] = {b"": True}  # the root always exists

            def exists(rel_dir: bytes) -> bool:
                if rel_dir not in known:
                    try:
                        mode, _ = tree_lookup_path(r.object_store.__getitem__, tree, rel_dir)
                        known[rel_dir] = mode is not None and mode & 0o170000 == 0o040000
                    except (KeyError, NotADirectoryError):
                        known[rel_dir] = False
                return known[rel_dir]

            return [
                p
                for p in paths
                if not p.startswith(prefix) or not exists(os.path.dirname(p[len(prefix) :]))
            ]
    except (NotGitRepository, OSError):
        return list(paths)


def files_at_commit(repo: str, commit: str, paths: list[bytes]) -> list[bytes] | None:
    """The `paths` (absolute, as a job recorded them) that are files of `repo` at
    `commit`, as paths relative to the repository, sorted; None when this machine's
    copy of the repository cannot tell (gone, or without that commit).

    `output.track_repo_files` (roar-cli's key) lists these as a job's repo files.
    """
    from dulwich.errors import NotGitRepository
    from dulwich.object_store import tree_lookup_path
    from dulwich.repo import Repo

    prefix = os.fsencode(repo).rstrip(b"/") + b"/"
    try:
        with Repo(repo) as r:
            if commit.encode() not in r.object_store:
                return None
            tree = r[commit.encode()].tree  # type: ignore[attr-defined]
            found = []
            for path in paths:
                if not path.startswith(prefix):
                    continue
                rel = path[len(prefix) :]
                try:
                    mode, _ = tree_lookup_path(r.object_store.__getitem__, tree, rel)
                except (KeyError, NotADirectoryError):
                    continue
                if mode is not None and mode & 0o170000 == 0o100000:  # a regular file
                    found.append(rel)
            return sorted(found)
    except (NotGitRepository, OSError):
        return None
