"""Whether the recorded commit is pushed is decided once (tracer/src/git_state.rs,
`remote_branch_holding`): `roar run` warns with it and `roar register --dry-run`'s
checklist asks the same binary (`roar-tracer remote-branch`). On real git
repositories (pushed, unpushed, no remote, detached, shallow, a commit below the
remote branch's tip), both callers give the answer git itself gives."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

GIT = ["git", "-c", "user.email=t@t", "-c", "user.name=t", "-c", "protocol.file.allow=always"]


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def commit(root: Path, text: str) -> str:
    (root / "step.py").write_text(f"open('out.txt', 'w').write({text!r})\n")
    git(root, "add", "step.py")
    git(root, "commit", "-qm", text)
    return git(root, "rev-parse", "HEAD")


def run_says_pushed(roar_cli, root: Path) -> bool:  # type: ignore[no-untyped-def]
    """`roar run`'s answer: no warning that the code is out of others' reach."""
    result = roar_cli("run", "python", "step.py", cwd=root)
    assert result.returncode == 0, result.stderr
    warned = [ln for ln in result.stderr.splitlines() if ln.startswith("warning:")]
    return not any("no git remote" in w or "on no remote branch" in w for w in warned)


def checklist_says(roar_cli, root: Path) -> dict:  # type: ignore[no-untyped-def]
    """`roar register --dry-run`'s check of the same step."""
    result = roar_cli("register", "--dry-run", "--json", cwd=root)
    assert result.returncode == 0, result.stderr
    checks = json.loads(result.stdout)["checklist"]
    return next(c for c in checks if c["check"] == "commit reachable on a remote")


def both_say(roar_cli, root: Path) -> tuple[bool, bool | None, str]:  # type: ignore[no-untyped-def]
    ran = run_says_pushed(roar_cli, root)
    check = checklist_says(roar_cli, root)
    return ran, check["ok"], check["detail"]


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    return bare


@pytest.fixture
def repo(roar_cli, tmp_path: Path, origin: Path) -> Path:  # type: ignore[no-untyped-def]
    root = tmp_path / "proj"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / ".gitignore").write_text(".roar/\nout.txt\n")
    git(root, "add", ".gitignore")
    commit(root, "first")
    assert roar_cli("init", "-n", cwd=root).returncode == 0
    return root


def test_no_remote_then_pushed_then_unpushed(roar_cli, repo: Path, origin: Path) -> None:  # type: ignore[no-untyped-def]
    # no remote at all: nobody else can fetch it
    head = git(repo, "rev-parse", "HEAD")
    assert both_say(roar_cli, repo)[:2] == (False, False)
    # pushed: held by origin/main
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "origin", "main")
    ran, ok, detail = both_say(roar_cli, repo)
    assert (ran, ok) == (True, True) and detail == f"{head[:12]} is on origin/main"
    # a commit on top, not pushed: git's remote-tracking branch does not hold it
    unpushed = commit(repo, "second")
    ran, ok, detail = both_say(roar_cli, repo)
    assert (ran, ok) == (False, False) and detail.startswith(f"{unpushed[:12]} is on no remote")


def test_a_detached_head_and_a_commit_below_the_tip(roar_cli, repo: Path, origin: Path) -> None:  # type: ignore[no-untyped-def]
    git(repo, "remote", "add", "origin", str(origin))
    below = git(repo, "rev-parse", "HEAD")
    commit(repo, "second")
    git(repo, "push", "-q", "origin", "main")
    # detached on a pushed commit that is not the branch's tip: found by the walk
    git(repo, "checkout", "-q", "--detach", below)
    assert both_say(roar_cli, repo)[:2] == (True, True)
    # detached on a commit of its own
    commit(repo, "detached work")
    assert both_say(roar_cli, repo)[:2] == (False, False)


def test_a_shallow_clone(roar_cli, repo: Path, origin: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    git(repo, "remote", "add", "origin", str(origin))
    for n in range(3):
        commit(repo, f"history {n}")
    git(repo, "push", "-q", "origin", "main")
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{origin}", str(clone))
    assert (clone / ".git" / "shallow").is_file()
    assert roar_cli("init", "-n", cwd=clone).returncode == 0
    # the clone's origin/HEAD is a symbolic ref: the branch named is origin/main
    ran, ok, detail = both_say(roar_cli, clone)
    assert (ran, ok) == (True, True) and detail.endswith("is on origin/main")
    # a local commit on the shallow history: the walk ends at the shallow boundary
    commit(clone, "local")
    assert both_say(roar_cli, clone)[:2] == (False, False)
