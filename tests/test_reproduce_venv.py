"""Issue #16 items 3 and 6: a step run with a project's own interpreter, typed as a
relative path, reproduces after that venv is gone; a failed reproduction resumes
in place, or starts over with --clean. Real tracer, real CLI, a git project whose
remote is a bare repository on disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import blake3
import pytest

if TYPE_CHECKING:
    from reproduce_fixtures import GitProject

pytest_plugins = ["reproduce_fixtures"]

STEP1 = "open('a.txt', 'w').write(open('in.txt').read().upper())\n"
STEP2 = """
import os, sys
if os.environ.get("FAIL_STEP2"):
    sys.exit(3)
open("b.txt", "w").write(open("a.txt").read()[::-1])
"""


def b3(path: Path) -> str:
    return blake3.blake3(path.read_bytes()).hexdigest()


def ok(roar_cli, *args: str, cwd: Path, env: dict | None = None):  # type: ignore[no-untyped-def]
    r = roar_cli(*args, cwd=cwd, env=env)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


@pytest.mark.parametrize("where", [".venv", "../venv-ml"])
def test_a_step_run_as_a_relative_venv_python_reproduces_after_the_venv_is_gone(
    roar_cli, git_project: GitProject, tmp_path: Path, where: str
) -> None:  # type: ignore[no-untyped-def]
    # given: a step run as `<venv>/bin/python step1.py`, the venv inside the repository
    # or beside it, typed relative to the work tree
    venv = (git_project.root / where).resolve()
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    git_project.commit({".gitignore": ".roar/\n.venv/\n", "in.txt": "hello\n", "step1.py": STEP1})
    ok(roar_cli, "init", "-n", cwd=git_project.root)
    python = f"{where}/bin/python"
    ok(roar_cli, "run", python, "step1.py", cwd=git_project.root)
    made = b3(git_project.root / "a.txt")
    # when: the venv is gone (another machine) and the artifact is reproduced
    subprocess.run(["rm", "-rf", str(venv)], check=True)
    plan = ok(roar_cli, "reproduce", made, cwd=git_project.root)
    out = tmp_path / "again"
    r = roar_cli("reproduce", made, "--run", "-y", "--dir", str(out), cwd=git_project.root)
    # then: the recorded interpreter ran as the reproduction's, and the bytes are the same
    assert "venv-ml/lib" not in plan.stdout and ".venv/lib" not in plan.stdout  # not inputs
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "command not found" not in r.stderr
    assert "all 1 artifacts are byte-identical" in r.stdout
    assert b3(out / "a.txt") == made


def test_a_failed_reproduction_resumes_in_place_and_clean_starts_over(
    roar_cli, git_project: GitProject, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    # given: a two-step pipeline, recorded
    git_project.commit({"in.txt": "hello\n", "step1.py": STEP1, "step2.py": STEP2})
    cwd = git_project.root
    ok(roar_cli, "init", "-n", cwd=cwd)
    ok(roar_cli, "run", "python", "step1.py", cwd=cwd)
    ok(roar_cli, "run", "python", "step2.py", cwd=cwd)
    target = b3(cwd / "b.txt")
    # when: the reproduction's second step fails (in the default ./reproduce-<hash>)
    first = roar_cli("reproduce", target, "--run", "-y", cwd=cwd, env={"FAIL_STEP2": "1"})
    directory = cwd / f"reproduce-{target[:12]}"
    # then: the directory is left, and the message says how to go on
    assert first.returncode == 11, first.stderr
    assert directory.is_dir()
    assert "the same command resumes it; --clean starts over" in first.stderr
    # when: the same command again, without --dir: it resumes, step 1 is not run again
    again = roar_cli("reproduce", target, "--run", "-y", cwd=cwd)
    assert again.returncode == 0, (again.stdout, again.stderr)
    assert "resuming the reproduction" in again.stderr
    assert "@1 done before: not run again" in again.stderr
    assert "all 2 artifacts are byte-identical" in again.stdout
    # and --clean starts over: the clone happens again, both steps run
    clean = roar_cli("reproduce", target, "--run", "-y", "--clean", cwd=cwd)
    assert clean.returncode == 0, (clean.stdout, clean.stderr)
    assert "--clean: removing" in clean.stderr and "== clone" in clean.stderr
    assert "done before" not in clean.stderr
    assert "all 2 artifacts are byte-identical" in clean.stdout


def test_a_directory_roar_did_not_make_is_never_resumed_or_removed(
    roar_cli, git_project: GitProject, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    git_project.commit({"in.txt": "hello\n", "step1.py": STEP1})
    ok(roar_cli, "init", "-n", cwd=git_project.root)
    ok(roar_cli, "run", "python", "step1.py", cwd=git_project.root)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("precious")
    made = b3(git_project.root / "a.txt")
    for extra in ((), ("--clean",)):
        r = roar_cli("reproduce", made, "--run", "-y", "--dir", str(mine), *extra,
                     cwd=git_project.root)  # fmt: skip
        assert r.returncode == 11 and "not a reproduction roar started" in r.stderr
        assert (mine / "keep.txt").read_text() == "precious"


PREP = """
import inflection
rows = open("data.csv").read().split()
open("clean.txt", "w").write("\\n".join(inflection.underscore(r) for r in rows))
"""
TRAIN = """
import inflection
words = open("clean.txt").read().split()
open("model.txt", "w").write(" ".join(inflection.pluralize(w) for w in words))
"""
EVAL = """
import json, inflection
model = open("model.txt").read().split()
json.dump({"n": len(model), "v": inflection.titleize(model[0])}, open("metrics.json", "w"))
"""
PACKAGE = "inflection==0.5.1"  # small, pure Python, and not in roar's own environment


def test_a_project_venv_pipeline_registered_reproduces_elsewhere_with_its_venv_rebuilt(
    roar_cli, git_project: GitProject, glaas_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    # given: a project with its own venv (a pinned package from the package index) and a
    # three-step pipeline run as `.venv/bin/python` and as `python` of the activated venv
    root = git_project.root
    git_project.commit({".gitignore": ".roar/\n.venv/\n", "data.csv": "FooBar BazQux Ab\n",
                        "prep.py": PREP, "train.py": TRAIN, "eval.py": EVAL})  # fmt: skip
    venv = root / ".venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
               "--disable-pip-version-check", PACKAGE]  # fmt: skip
    pip = subprocess.run(install, capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr
    home = {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "home/.config"),
            "XDG_CACHE_HOME": str(tmp_path / "home/.cache")}  # fmt: skip
    ok(roar_cli, "init", "-n", cwd=root, env=home)
    ok(roar_cli, "config", "set", "glaas.url", glaas_url, cwd=root, env=home)
    ok(roar_cli, "run", ".venv/bin/python", "prep.py", cwd=root, env=home)
    ok(roar_cli, "run", ".venv/bin/python", "train.py", cwd=root, env=home)
    # as after `source .venv/bin/activate` (the roar_cli fixture puts its own Python first)
    activated = {**os.environ, **home, "NO_COLOR": "1", "VIRTUAL_ENV": str(venv),
                 "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}  # fmt: skip
    activated.pop("ROAR_WORKSPACE", None)
    third = subprocess.run([sys.executable, "-m", "roar", "run", "python", "eval.py"], cwd=root,
                           env=activated, capture_output=True, text=True)  # fmt: skip
    assert third.returncode == 0, third.stderr
    made = {n: b3(root / n) for n in ("clean.txt", "model.txt", "metrics.json")}
    plan = json.loads(ok(roar_cli, "reproduce", made["metrics.json"], "--json", cwd=root,
                         env=home).stdout)  # fmt: skip
    assert {"name": "inflection", "version": "0.5.1"} in plan["packages"]
    assert plan["packages_from"] == "read"
    assert [i["status"] for i in plan["inputs"]] == ["repository"] * 4  # no venv file
    session = ok(roar_cli, "register", "-y", "--json", cwd=root, env=home)
    session_hash = json.loads(session.stdout)["target"]["hash"]

    # when: the venv is gone (another machine), and in a new directory that is no
    # workspace the registered hash is reproduced
    subprocess.run(["rm", "-rf", str(venv)], check=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = roar_cli("reproduce", session_hash, "--run", "-y", "--remote", glaas_url,
                 cwd=elsewhere, env=home)  # fmt: skip

    # then: the venv was made again with the recorded package, and every artifact is identical
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "new venv" in r.stderr and "1 packages installed" in r.stderr
    out = elsewhere / f"reproduce-{session_hash[:12]}"
    assert (out / ".venv" / "bin" / "python").exists()
    assert "all 3 artifacts are byte-identical" in r.stdout
    assert {n: b3(out / n) for n in made} == made
