"""A real project's own virtualenv, end to end (issue #16).

A venv made here with `python -m venv`, real pinned packages installed into
it by pip from the package index, and an editable project (`pip install -e`)
in a git repository of its own. The job's interpreter, however it is named
(`.venv/bin/python`, `python` of the activated venv, a venv outside the
repository), is recognized: what it imports counts as package reads, the
inputs are exactly the workspace's files, and the distributions the job read
are recorded in the job when it runs, with their versions; the editable
project as code with its commit, never as a package. Also: absolute
`filters.ignore_patterns`, and the reproducibility warnings of `roar run`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pipeline import last_job

from roar.objects.env import Env
from roar.objects.job import Job
from roar.workspace import Workspace

GIT = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
# Small, pure Python, pinned: a single-module distribution and a package.
PINNED = {"six": "1.16.0", "idna": "3.7"}

SCRIPT = """\
import importlib.metadata, sys
import six, idna
importlib.metadata.version("pip")  # a metadata scan: pip is not read
rows = open("data.csv").read().splitlines()
open("out.txt", "w").write(f"{len(rows)} {six.PY3} {idna.decode('xn--d1acufc.xn--p1ai')}\\n")
"""


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def env_of(root: Path, job: Job) -> Env:
    env = Workspace(root).objects.read(job.context["env"])
    assert isinstance(env, Env)
    return env


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the pinned packages and an editable project `mylib` (a git repo)."""
    base = tmp_path_factory.mktemp("venv")
    venv = base / ".venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
    ]
    # wheel: the venv's setuptools builds the editable install with it.
    specs = [f"{n}=={v}" for n, v in PINNED.items()] + ["wheel==0.43.0"]
    subprocess.run([*pip, *specs], check=True, timeout=300)
    lib = base / "mylib"
    (lib / "mylib").mkdir(parents=True)
    (lib / "mylib" / "__init__.py").write_text("ANSWER = 42\n")
    (lib / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "mylib"\nversion = "0.3"\n'
    )
    git(lib, "init", "-q", "-b", "main")
    git(lib, "add", "-A")
    git(lib, "commit", "-qm", "mylib")
    git(lib, "remote", "add", "origin", "https://example.invalid/mylib.git")
    subprocess.run([*pip, "--no-build-isolation", "-e", str(lib)], check=True, timeout=300)
    return venv


def workspace(roar_cli, root: Path) -> None:  # type: ignore[no-untyped-def]
    root.mkdir(exist_ok=True)
    (root / "train.py").write_text(SCRIPT)
    (root / "data.csv").write_text("a\n1\n2\n")
    roar_cli("init", "-n", cwd=root)


def check_recorded(root: Path, python: Path, *more_inputs: str) -> None:
    job = last_job(root)
    inputs = sorted(["data.csv", "train.py", *more_inputs])
    assert [a.path for a in job.inputs] == [os.fsencode(root / name) for name in inputs]
    assert [a.path for a in job.outputs] == [os.fsencode(root / "out.txt")]
    pip = dict(job.context["packages"]["pip"])
    assert {n: pip.get(n) for n in PINNED} == PINNED
    assert "pip" not in pip and "mylib" not in pip
    assert job.context["packages"]["code"] == []  # mylib was not imported
    env = env_of(root, job)
    assert env.python is not None
    assert env.python["executable"] == os.fsencode(python)  # absolute, the venv's link kept
    assert env.python["prefix"] == os.fsencode(python.parent.parent)


def test_the_venv_in_the_repository_run_by_its_path(roar_cli, tmp_path: Path, venv: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "proj"
    workspace(roar_cli, root)
    os.symlink(venv, root / ".venv")  # the project's .venv
    # Typed relative, through `..`: recorded normalized (the link to the
    # venv resolved, the venv's own bin/python link not).
    (root / "sub").mkdir()
    result = roar_cli("run", "../.venv/bin/python", "-c", "import six", cwd=root / "sub")
    assert result.returncode == 0, result.stderr
    assert "read 0" in result.stderr
    python = env_of(root, last_job(root)).python or {}
    assert python["executable"] == os.fsencode(venv.resolve() / "bin" / "python")
    result = roar_cli("run", ".venv/bin/python", "train.py", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "read 2  wrote 1" in result.stderr
    check_recorded(root, venv.resolve() / "bin" / "python")
    assert (root / "out.txt").read_text() == "3 True домен.рф\n"
    shown = json.loads(roar_cli("show", "@2", "--json", cwd=root).stdout)["packages_read"]
    assert {"six==1.16.0", "idna==3.7"} <= set(shown["pip"]) and shown["recorded"] is True


def test_python_of_the_activated_venv(roar_cli, roar_exe: str, tmp_path: Path, venv: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "proj"
    workspace(roar_cli, root)
    # As `source .venv/bin/activate` leaves the shell: the venv first on PATH.
    activated = {**os.environ, "NO_COLOR": "1", "VIRTUAL_ENV": str(venv),
                 "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}  # fmt: skip
    result = subprocess.run([roar_exe, "run", "python", "train.py"], cwd=root, env=activated,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "read 2  wrote 1" in result.stderr
    check_recorded(root, venv.resolve() / "bin" / "python")


def test_a_venv_outside_the_repository(roar_cli, tmp_path: Path, venv: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "elsewhere"
    workspace(roar_cli, root)
    python = venv / "bin" / "python"
    result = roar_cli("run", str(python), "train.py", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "read 2  wrote 1" in result.stderr
    check_recorded(root, venv.resolve() / "bin" / "python")


# A venv activated by the command's own shell, not by the caller's: the job executes
# the venv's python, which is recognized as when it is named (tracer/src/interpreters.rs).
ACTIVATED = ". .venv/bin/activate && python train.py"


@pytest.mark.parametrize("how", ["sh -c", "a script"])
def test_a_venv_activated_inside_the_job(roar_cli, tmp_path: Path, venv: Path, how: str) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "proj"
    workspace(roar_cli, root)
    os.symlink(venv, root / ".venv")
    named = roar_cli("run", ".venv/bin/python", "train.py", cwd=root)
    assert named.returncode == 0, named.stderr
    as_named = last_job(root)
    if how == "sh -c":
        result = roar_cli("run", "sh", "-c", ACTIVATED, cwd=root)
        script: tuple[str, ...] = ()
    else:
        (root / "train.sh").write_text(f"#!/bin/sh\n{ACTIVATED}\n")
        (root / "train.sh").chmod(0o755)
        result = roar_cli("run", "./train.sh", cwd=root)
        script = ("train.sh",)
    assert result.returncode == 0, result.stderr
    assert f"read {2 + len(script)}  wrote 1" in result.stderr
    # the venv's files (its bin/activate included) are no data inputs; its packages are
    # the job's, with the same environment object as when its python is named
    check_recorded(root, venv.resolve() / "bin" / "python", *script)
    job = last_job(root)
    assert job.context["packages"] == as_named.context["packages"]
    assert job.context["env"] == as_named.context["env"]
    assert os.fsencode(venv.resolve() / "bin" / "activate") in job.filtered


def test_an_editable_install_is_code_with_its_commit(roar_cli, tmp_path: Path, venv: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "proj"
    workspace(roar_cli, root)
    result = roar_cli("run", str(venv / "bin" / "python"), "-c", "import mylib, six", cwd=root)
    assert result.returncode == 0, result.stderr
    packages = last_job(root).context["packages"]
    lib = venv.parent / "mylib"
    [code] = packages["code"]
    assert (code["name"], code["version"], code["path"]) == ("mylib", "0.3", os.fsencode(lib))
    assert code["git"]["commit"] == git(lib, "rev-parse", "HEAD")
    assert code["git"]["remote"] == "https://example.invalid/mylib.git"
    assert code["git"]["dirty"] is False
    assert "mylib" not in dict(packages["pip"]) and dict(packages["pip"])["six"] == "1.16.0"
    # recorded once, as code at its commit: its files are not data inputs too
    job = last_job(root)
    assert job.inputs == ()
    assert os.fsencode(lib / "mylib" / "__init__.py") in job.filtered
    shown = roar_cli("show", "@1", cwd=root).stdout
    assert f"code:     mylib 0.3 @ {code['git']['commit'][:12]}" in shown


def test_the_plan_names_an_editable_project(roar_cli, tmp_path: Path, venv: Path) -> None:  # type: ignore[no-untyped-def]
    # given: a step that reads the editable project mylib (outside the workspace) and writes
    root = tmp_path / "proj"
    workspace(roar_cli, root)
    prog = "import mylib; open('answer.txt', 'w').write(str(mylib.ANSWER))"
    assert roar_cli("run", str(venv / "bin" / "python"), "-c", prog, cwd=root).returncode == 0
    commit = git(venv.parent / "mylib", "rev-parse", "HEAD")
    # when: the plan to reproduce what it wrote
    done = roar_cli("reproduce", "answer.txt", "--json", cwd=root)
    assert done.returncode == 0, done.stderr
    warnings = json.loads(done.stdout)["warnings"]
    # then: mylib is not an input to find, so the plan says to install it, at its commit
    lib = venv.parent / "mylib"
    assert [w for w in warnings if "mylib" in w] == [
        f"the steps read the editable project mylib 0.3 ({lib} from "
        f"https://example.invalid/mylib.git at commit {commit[:12]}); reproduce does not "
        "install it: install it (pip install -e) before running the plan"
    ]


def test_an_absolute_ignore_pattern_is_filtered(roar_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "proj"
    outside = tmp_path / "scratch"
    outside.mkdir()
    (outside / "cache.bin").write_text("x")
    (outside / "keep.dat").write_text("y")
    workspace(roar_cli, root)
    roar_cli("config", "set", "filters.ignore_patterns", f"{outside}/*.bin", cwd=root)
    read = (
        f"open({str(outside / 'cache.bin')!r}).read(); open({str(outside / 'keep.dat')!r}).read()"
    )
    assert roar_cli("run", "python", "-c", read, cwd=root).returncode == 0
    job = last_job(root)
    assert [a.path for a in job.inputs] == [os.fsencode(outside / "keep.dat")]
    assert os.fsencode(outside / "cache.bin") in job.filtered


def test_run_warns_of_what_would_keep_the_run_from_being_reproduced(
    roar_cli, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "proj"
    root.mkdir()
    (root / "train.py").write_text("print('hi')\n")
    (root / ".gitignore").write_text(".roar/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "first")
    roar_cli("init", "-n", cwd=root)

    def warnings(*flags: str) -> list[str]:
        result = roar_cli("run", *flags, "python", "train.py", cwd=root)
        assert result.returncode == 0, result.stderr
        return [ln for ln in result.stderr.splitlines() if ln.startswith("warning:")]

    assert warnings() == [
        "warning: no git remote: others cannot fetch this code (`git remote add origin URL`)"
    ]
    assert warnings("-q") == []
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    git(root, "remote", "add", "origin", str(remote))
    head = git(root, "rev-parse", "HEAD")
    unpushed = (
        f"warning: commit {head[:12]} is on no remote branch: "
        "`git push` so others can reproduce this run"
    )
    assert warnings() == [unpushed]
    git(root, "push", "-q", "origin", "main")
    assert warnings() == []
    (root / "train.py").write_text("print('edited')\n")
    assert warnings() == ["warning: git work tree is dirty; the patch is recorded with the job"]
    git(root, "commit", "-qam", "second")  # ahead of origin/main: not pushed
    assert warnings() == [unpushed.replace(head[:12], git(root, "rev-parse", "HEAD")[:12])]


def test_a_step_that_imports_nothing_reads_no_package(roar_cli, tmp_path: Path, venv: Path) -> None:  # type: ignore[no-untyped-def]
    # The venv's .pth files run setuptools' `_distutils_hack` and mylib's editable finder
    # at every interpreter start: the step used neither.
    root = tmp_path / "proj"
    workspace(roar_cli, root)
    assert any("_distutils_hack" in p.read_text() for p in venv.glob("lib/*/site-packages/*.pth"))
    result = roar_cli("run", str(venv / "bin" / "python"), "-c", "print(1)", cwd=root)
    assert result.returncode == 0, result.stderr
    packages = last_job(root).context["packages"]
    assert packages["pip"] == [] and packages["code"] == []
