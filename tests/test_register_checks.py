"""Issue #16 item 5: register says what would make a run unreproducible while it can
still be fixed, names the repository by its remote (never a local path), and pushes
its roar/<id> tag to the git remote. A real glaas-server on 127.0.0.1, a git project
whose remote is a bare repository on disk, the real CLI and tracer."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from dulwich import porcelain
from dulwich.repo import Repo

if TYPE_CHECKING:
    from reproduce_fixtures import GitProject

pytest_plugins = ["reproduce_fixtures"]
AUTHOR = b"Ada <ada@example.com>"


def ok(roar_cli, *args: str, cwd: Path, env: dict | None = None):  # type: ignore[no-untyped-def]
    r = roar_cli(*args, cwd=cwd, env=env)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def set_remote(root: Path, url: str | None) -> None:
    args = ["remote", "remove", "origin"] if url is None else ["remote", "add", "origin", url]
    subprocess.run(["git", "-C", str(root), *args], check=True)


def test_register_warns_and_the_dry_run_lists_the_checklist(
    roar_cli, git_project: GitProject, glaas_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    # given: a step recorded on a commit never pushed, with an uncommitted change, and an
    # input that exists only on this machine
    root = git_project.root
    env = {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "home/.config")}
    local = tmp_path / "local.dat"
    local.write_text("only here\n")
    code = f"open('out.txt','w').write(open({str(local)!r}).read())\n"
    (root / "step.py").write_text(code)
    porcelain.add(str(root), [str(root / "step.py")])
    porcelain.commit(str(root), message=b"unpushed", author=AUTHOR, committer=AUTHOR)
    (root / "step.py").write_text(code + "# changed\n")
    ok(roar_cli, "init", "-n", cwd=root, env=env)
    ok(roar_cli, "config", "set", "glaas.url", glaas_url, cwd=root, env=env)
    ok(roar_cli, "run", "python", "step.py", cwd=root, env=env)
    # when: a dry run, then the register itself
    dry = json.loads(ok(roar_cli, "register", "--dry-run", "--json", cwd=root, env=env).stdout)
    reg = ok(roar_cli, "register", "-y", cwd=root, env=env)
    # then: the checklist says what fails, and register warns of the same before sending
    checks = {c["check"]: c["ok"] for c in dry["checklist"]}
    assert checks["git remote known"] is True
    assert checks["commit reachable on a remote"] is False
    assert checks["code committed to git"] is False
    assert checks["all inputs sourced"] is False
    assert checks["runtime captured (interpreter + packages)"] is True
    for name in ("commit reachable on a remote", "code committed to git", "all inputs sourced"):
        assert f"warning: {name}:" in reg.stderr, reg.stderr
    assert "git push" in reg.stderr and "local.dat" in reg.stderr


def test_a_job_recorded_before_git_remote_add_shows_the_remote_not_a_path(
    roar_cli, git_project: GitProject, glaas_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    # given: a job recorded while the repository had no remote; the remote added after
    root = git_project.root
    env = {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "home/.config")}
    git_project.commit({"step.py": "open('out.txt','w').write('x')\n"})
    set_remote(root, None)
    ok(roar_cli, "init", "-n", cwd=root, env=env)
    ok(roar_cli, "run", "python", "step.py", cwd=root, env=env)
    job = json.loads(ok(roar_cli, "show", "@1", "--json", cwd=root, env=env).stdout)
    assert not job["git"].get("remote")
    plan_before = ok(roar_cli, "reproduce", "out.txt", cwd=root, env=env).stdout
    set_remote(root, str(git_project.origin))
    # when: the plan is shown now
    plan = json.loads(ok(roar_cli, "reproduce", "out.txt", "--json", cwd=root, env=env).stdout)
    # then: without a remote the plan says the repository is unknown; with one, it is it
    assert f"repository: unknown (no git remote recorded; the work tree here: {root}" in (
        plan_before
    )
    assert plan["source"]["url"] == str(git_project.origin)


def test_push_tag_pushes_roar_tag_to_the_git_remote(
    roar_cli, git_project: GitProject, glaas_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    root = git_project.root
    env = {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "home/.config")}
    commit = git_project.commit({"step.py": "open('out.txt','w').write('x')\n"})
    ok(roar_cli, "init", "-n", cwd=root, env=env)
    ok(roar_cli, "config", "set", "glaas.url", glaas_url, cwd=root, env=env)
    ok(roar_cli, "run", "python", "step.py", cwd=root, env=env)
    # without --push-tag the tag is local, and the output says how to push it
    first = ok(roar_cli, "register", "-y", "--json", cwd=root, env=env)
    tag = json.loads(first.stdout)["git_tag"]
    with Repo(str(git_project.origin)) as origin:
        assert f"refs/tags/{tag}".encode() not in origin.refs
    # with --push-tag it reaches the bare repository, at the commit the job ran on
    out = json.loads(ok(roar_cli, "register", "-y", "--push-tag", "--json", cwd=root,
                        env=env).stdout)  # fmt: skip
    assert out["git_tag"] == tag and out["git_tag_pushed_to"] == str(git_project.origin)
    with Repo(str(git_project.origin)) as origin:
        assert origin.refs[f"refs/tags/{tag}".encode()] == commit.encode()


def test_a_dry_run_outside_git_does_not_say_the_code_is_committed(
    roar_cli, glaas_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    # given: a step recorded in a directory that is no git repository
    root = tmp_path / "plain"
    root.mkdir()
    env = {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "home/.config"),
           "GIT_CEILING_DIRECTORIES": str(tmp_path)}  # fmt: skip
    (root / "step.py").write_text("open('out.txt','w').write('x')\n")
    ok(roar_cli, "init", "-n", cwd=root, env=env)
    ok(roar_cli, "config", "set", "glaas.url", glaas_url, cwd=root, env=env)
    ok(roar_cli, "run", "python", "step.py", cwd=root, env=env)
    # when
    dry = json.loads(ok(roar_cli, "register", "--dry-run", "--json", cwd=root, env=env).stdout)
    text = ok(roar_cli, "register", "--dry-run", cwd=root, env=env).stdout
    # then: not committed, and why
    check = next(c for c in dry["checklist"] if c["check"] == "code committed to git")
    assert check["ok"] is False and "outside a git repository" in check["detail"]
    assert "[✅] code committed to git" not in text
    assert "[❌] code committed to git" in text


def test_a_remote_url_is_shown_with_its_credentials_masked(
    roar_cli, git_project: GitProject, glaas_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    # given: a step recorded in a repository whose origin URL holds a token
    root = git_project.root
    env = {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "home/.config")}
    secret = "ghp_SECRETSECRETSECRET"
    set_remote(root, None)
    set_remote(root, f"https://alice:{secret}@github.com/alice/pipeline.git")
    git_project.commit({"step.py": "open('out.txt','w').write('x')\n"})
    ok(roar_cli, "init", "-n", cwd=root, env=env)
    ok(roar_cli, "config", "set", "glaas.url", glaas_url, cwd=root, env=env)
    ok(roar_cli, "run", "python", "step.py", cwd=root, env=env)
    # when: the checklist and the plan show the repository
    shown = [
        ok(roar_cli, "register", "--dry-run", cwd=root, env=env).stdout,
        ok(roar_cli, "register", "--dry-run", "--json", cwd=root, env=env).stdout,
        ok(roar_cli, "reproduce", "out.txt", cwd=root, env=env).stdout,
    ]
    # then: the host and user are there, the password never is
    for out in shown:
        assert secret not in out
        assert "https://alice:<redacted>@github.com/alice/pipeline.git" in out, out
