"""Git context of a run, through dulwich (no `git` subprocess).

Repository, remote URL, branch, commit and dirty state; when the tracked
files differ from the commit, the patch is stored as a blob object so the
run stays reproducible.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from roar.objects.store import ObjectStore


class GitState(NamedTuple):
    repo: str
    remote: str | None
    branch: str | None
    commit: str
    dirty: bool
    patch: bytes

    def to_context(self, patch_id: str | None) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "remote": self.remote,
            "branch": self.branch,
            "commit": self.commit,
            "dirty": self.dirty,
            "patch": patch_id,
        }


def find_repo_root(start: Path) -> Path | None:
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def read_state(cwd: Path) -> GitState | None:
    """The git state of the repository containing cwd, or None outside git / before a commit."""
    root = find_repo_root(cwd.resolve())
    if root is None:
        return None
    from dulwich import porcelain
    from dulwich.repo import Repo

    with Repo(str(root)) as repo:
        try:
            commit = repo.head().decode()
        except KeyError:
            return None  # a repository with no commit yet
        try:
            branch: str | None = porcelain.active_branch(repo).decode()
        except (KeyError, IndexError, ValueError):
            branch = None  # detached HEAD
        remote = _remote_url(repo, branch)
        out = io.BytesIO()
        porcelain.diff(repo, commit=repo.head(), outstream=out)
        patch = out.getvalue()
    return GitState(str(root), remote, branch, commit, bool(patch), patch)


def _remote_url(repo: Any, branch: str | None) -> str | None:
    config = repo.get_config()
    names = []
    if branch:
        try:
            names.append(config.get((b"branch", branch.encode()), b"remote"))
        except KeyError:
            pass
    names.append(b"origin")
    for name in names:
        try:
            return str(config.get((b"remote", name), b"url").decode())
        except KeyError:
            continue
    return None


def git_context(cwd: Path, store: ObjectStore) -> tuple[dict[str, Any] | None, GitState | None]:
    """The job context's `git` map (storing the patch blob when dirty)."""
    state = read_state(cwd)
    if state is None:
        return None, None
    if not state.dirty:
        return state.to_context(None), state
    from roar.objects.blob import Blob

    patch_id = store.write(Blob(state.patch))
    return state.to_context(patch_id), state


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
