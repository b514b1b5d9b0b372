"""Git context of a run, through dulwich (no `git` subprocess).

Repository, remote URL, branch, commit and dirty state; when the tracked
files differ from the commit, the patch is stored as a blob object so the
run stays reproducible.
"""

from __future__ import annotations

import io
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


def files_at_commit(repo: str, commit: str, paths: list[bytes]) -> list[bytes] | None:
    """The `paths` (absolute, as a job recorded them) that are files of `repo` at
    `commit`, as paths relative to the repository, sorted; None when this machine's
    copy of the repository cannot tell (gone, or without that commit).

    `output.track_repo_files` (roar-cli's key) lists these as a job's repo files.
    """
    import os

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
