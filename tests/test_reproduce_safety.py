"""`roar reproduce` on hostile lineage (issue #11, items 13-15).

The lineage is what a registry could deliver: written here object by
object, as a fetch would store it. Reproduction must not write or delete
outside its directory, must show recorded text without letting it drive
the terminal, and must write a script in which no recorded value runs.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import blake3
import pytest

from roar.objects.blob import Blob
from roar.objects.env import Env
from roar.objects.job import ArtifactRef, Job
from roar.sessions import append
from roar.workspace import Workspace

if TYPE_CHECKING:
    from reproduce_fixtures import GitProject

pytest_plugins = ["reproduce_fixtures"]

OUT = "result-bytes"
ESC = "\x1b[2K\r"


def recorded(
    project: GitProject,
    *,
    patch: bytes | None = None,
    inputs: tuple[ArtifactRef, ...] = (),
    argv: tuple[bytes, ...] = (b"python", b"code.py"),
    commit: str | None = None,
    env: Env | None = None,
    getter: Job | None = None,
) -> str:
    """A workspace in the project holding one recorded run step; the hash it wrote."""
    sha = project.commit({"code.py": f"open('out.txt', 'w').write({OUT!r})\n"}, "code")
    ws = Workspace.find(project.root) if (project.root / ".roar").exists() else None
    ws = ws or Workspace.create(project.root)[0]
    root = bytes(project.root)
    git = {"repo": str(project.root), "remote": str(project.origin), "branch": "master",
           "commit": commit or sha, "dirty": patch is not None,
           "patch": ws.objects.write(Blob(patch)) if patch is not None else None}  # fmt: skip
    context = {"git": git, **({"env": ws.objects.write(env)} if env else {})}
    digest = blake3.blake3(OUT.encode()).hexdigest()
    if getter is not None:
        append(ws, ws.objects.write(getter), "run")
    out = (ArtifactRef(root + b"/out.txt", digest, len(OUT)),)
    now = time.time_ns()
    job = Job("run", argv, root, now, now + 1, 0, inputs=inputs, outputs=out, context=context)
    append(ws, ws.objects.write(job), "run")
    return digest


def reproduce(roar_cli, project: GitProject, digest: str, tmp: Path, *extra: str):  # type: ignore[no-untyped-def]
    (tmp / "a").mkdir(exist_ok=True)
    return roar_cli("reproduce", digest, "--run", "-y", "--dir", str(tmp / "a" / "repro"), *extra,
                    cwd=project.root)  # fmt: skip


# -- 13. nothing written or deleted outside the directory -----------------------------


def test_a_patch_that_deletes_outside_is_refused_and_listed(roar_cli, git_project, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("mine\n")
    patch = b"--- a/../../victim.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-mine\n"
    digest = recorded(git_project, patch=patch)
    plan = roar_cli("reproduce", digest, cwd=git_project.root)
    assert plan.returncode == 11
    assert "the recorded patch deletes ../../victim.txt" in plan.stdout
    r = reproduce(roar_cli, git_project, digest, tmp_path)
    assert r.returncode == 11 and "would not stay inside" in r.stderr
    assert victim.read_text() == "mine\n"
    assert not (tmp_path / "a" / "repro").exists()


@pytest.mark.parametrize("target", ["b/../../x", "ABS"])
def test_a_patch_that_writes_outside_is_refused(roar_cli, git_project, tmp_path, target):
    where = tmp_path / "abs-x" if target == "ABS" else tmp_path / "x"
    name = str(where) if target == "ABS" else target
    patch = f"--- /dev/null\n+++ {name}\n@@ -0,0 +1 @@\n+pwned\n".encode()
    digest = recorded(git_project, patch=patch)
    r = reproduce(roar_cli, git_project, digest, tmp_path)
    assert r.returncode == 11 and "the recorded patch writes" in r.stderr
    assert not where.exists() and not (tmp_path / "a" / "repro").exists()


def test_a_symlink_in_the_repository_cannot_lead_a_patch_out(roar_cli, git_project, tmp_path):
    os.symlink("../../..", git_project.root / "up")
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "add", "up"], cwd=git_project.root, check=True)
    subprocess.run([*git, "commit", "-qm", "link"], cwd=git_project.root, check=True)
    subprocess.run([*git, "push", "-q", str(git_project.origin), "HEAD:master"],
                   cwd=git_project.root, check=True)  # fmt: skip
    patch = b"--- /dev/null\n+++ b/up/escaped.txt\n@@ -0,0 +1 @@\n+pwned\n"
    digest = recorded(git_project, patch=patch)
    r = reproduce(roar_cli, git_project, digest, tmp_path)
    assert r.returncode == 11 and "symbolic link" in r.stderr
    assert not (tmp_path / "escaped.txt").exists()
    assert not (tmp_path / "a" / "repro").exists()


def test_inputs_outside_the_directory_are_refused(roar_cli, git_project, tmp_path):
    # an input recorded at <repo>/../../x2, whose bytes are available in the workspace
    data = b"input bytes\n"
    (git_project.root / "data").mkdir()
    (git_project.root / "data" / "copy.bin").write_bytes(data)
    climbing = ArtifactRef(bytes(git_project.root) + b"/../../x2", blake3.blake3(data).hexdigest(),
                           len(data))  # fmt: skip
    # and a get input recorded at an absolute path outside the repository
    far = tmp_path / "elsewhere" / "data.csv"
    got = b"a,b\n"
    far_ref = ArtifactRef(bytes(far), blake3.blake3(got).hexdigest(), len(got))
    getter = Job("get", (b"roar", b"get"), bytes(git_project.root), 1, 2, 0, outputs=(far_ref,),
                 context={"url": "http://127.0.0.1:9/data.csv"})  # fmt: skip
    inputs = tuple(sorted((climbing, far_ref), key=lambda a: a.path))
    digest = recorded(git_project, inputs=inputs, getter=getter)
    plan = roar_cli("reproduce", digest, cwd=git_project.root)
    assert plan.returncode == 11
    assert "would be placed outside the directory" in plan.stdout
    assert f"input {far} is outside the repository" in plan.stdout
    r = reproduce(roar_cli, git_project, digest, tmp_path)
    assert r.returncode == 11
    assert not (tmp_path / "x2").exists() and not far.exists()
    assert not (tmp_path / "a" / "repro").exists()


# -- 14. recorded text never drives the terminal -----------------------------------------


def test_escape_codes_in_recorded_text_are_shown_escaped(roar_cli, git_project):
    argv = (b"python", b"code.py", ESC.encode() + b"rm -rf /home  # harmless")
    recorded(git_project, argv=(b"python", b"code.py", b"--before"))
    digest = recorded(git_project, argv=argv)
    for args in (("show", "@2"), ("log",), ("dag",), ("reproduce", digest), ("diff", "@1", "@2")):
        r = roar_cli(*args, cwd=git_project.root)
        assert "\x1b" not in r.stdout and "\r" not in r.stdout, args
        assert "\\e[2K\\r" in r.stdout, (args, r.stdout)


# -- 15. the script quotes every recorded value ----------------------------------------------


def script(roar_cli, project: GitProject, digest: str, tmp: Path):  # type: ignore[no-untyped-def]
    return roar_cli("reproduce", digest, "--script", str(tmp / "plan.sh"), cwd=project.root)


def test_a_command_that_looks_like_an_option_follows_a_double_dash(roar_cli, git_project,
                                                                   tmp_path):  # fmt: skip
    digest = recorded(git_project, argv=(b"--help", b"x"))
    assert script(roar_cli, git_project, digest, tmp_path).returncode == 0
    text = (tmp_path / "plan.sh").read_text()
    assert f"(cd {git_project.root}" not in text  # the step runs in the clone
    assert "roar run -- --help x)  # @1" in text


def test_a_commit_that_is_not_hex_is_refused(roar_cli, git_project, tmp_path):
    digest = recorded(git_project, commit="HEAD; touch PWNED; #")
    r = script(roar_cli, git_project, digest, tmp_path)
    assert r.returncode == 11 and "not a git commit id" in r.stderr
    assert not (tmp_path / "plan.sh").exists()


def test_an_interpreter_version_that_is_not_one_is_refused(roar_cli, git_project, tmp_path):
    env = Env(os={}, cpu={}, memory=1, python={"version": "3.11; touch PWNED", "executable": b"/x"})
    digest = recorded(git_project, env=env)
    r = script(roar_cli, git_project, digest, tmp_path)
    assert r.returncode == 11 and "not a version" in r.stderr


def test_a_newline_in_the_interpreter_path_stays_in_its_comment(roar_cli, git_project, tmp_path):
    python = b"/usr/bin/python3\ntouch PWNED"
    env = Env(os={}, cpu={}, memory=1, python={"version": "3.11.4", "executable": python})
    digest = recorded(git_project, env=env)
    assert script(roar_cli, git_project, digest, tmp_path).returncode == 0
    lines = (tmp_path / "plan.sh").read_text().splitlines()
    assert "touch PWNED" not in lines
    assert any(line.startswith("# recorded:") and "\\ntouch PWNED" in line for line in lines)


def test_a_patch_line_equal_to_the_delimiter_does_not_end_the_patch(roar_cli, git_project,
                                                                    tmp_path):  # fmt: skip
    patch = b"--- a/code.py\n+++ b/code.py\nROAR_PATCH\ntouch PWNED\n"
    digest = recorded(git_project, patch=patch)
    assert script(roar_cli, git_project, digest, tmp_path).returncode == 0
    text = (tmp_path / "plan.sh").read_text()
    assert "<<'ROAR_PATCH_1'" in text
    run = subprocess.run(["bash", str(tmp_path / "plan.sh"), str(tmp_path / "out")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode != 0  # git apply refuses the garbage: nothing after it runs
    assert not (tmp_path / "PWNED").exists()
