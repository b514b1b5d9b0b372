"""`roar reproduce`: from an artifact's hash back to the same bytes, or a clear stop.

Real pipelines recorded with the real tracer in a git work tree whose remote
is a local bare repository; reproduced with the real CLI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import blake3
import pytest

BUILD = """
import os
os.makedirs("lib", exist_ok=True)
open("lib/vocab.txt", "w").write("\\n".join(sorted(open("vocab.src").read().split())))
"""
PREP = """
vocab = set(open("lib/vocab.txt").read().split())
rows = [w for w in open("data/raw.csv").read().split() if w in vocab]
open("clean.csv", "w").write("\\n".join(rows))
"""
TRAIN = """
import json, os
os.makedirs("model", exist_ok=True)
words = open("clean.csv").read().split()
open("model/weights.bin", "wb").write(bytes(len(w) for w in words) * 100)
json.dump({"n": len(words)}, open("model/config.json", "w"))
"""
EVAL = """
import json
w = open("model/weights.bin", "rb").read()
json.dump({"sum": sum(w), "len": len(w)}, open("metrics.json", "w"))
"""
STAMP = """
import time
open("stamp.txt", "w").write(str(time.time_ns()) + open("clean.csv").read())
"""
RAW = "apple pear kiwi apple fig plum\n"

if TYPE_CHECKING:
    from reproduce_fixtures import GitProject
    from transfer_fixtures import FileServer

pytest_plugins = ["reproduce_fixtures", "transfer_fixtures"]


def b3(path: Path) -> str:
    return blake3.blake3(path.read_bytes()).hexdigest()


def run_ok(roar_cli, *args: str, cwd: Path, env: dict | None = None):  # type: ignore[no-untyped-def]
    result = roar_cli(*args, cwd=cwd, env=env)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result


def record_pipeline(roar_cli, project: GitProject, raw_url: str | None) -> None:  # type: ignore[no-untyped-def]
    project.commit(
        {"vocab.src": "fig apple plum kiwi", "build.py": BUILD, "prep.py": PREP,
         "train.py": TRAIN, "eval.py": EVAL, "stamp.py": STAMP},
        "the pipeline",
    )  # fmt: skip
    cwd = project.root
    run_ok(roar_cli, "init", "-n", cwd=cwd)
    run_ok(roar_cli, "build", "python", "build.py", cwd=cwd)
    if raw_url:
        run_ok(roar_cli, "get", raw_url, "data/raw.csv", cwd=cwd)
    else:
        (cwd / "data").mkdir()
        (cwd / "data" / "raw.csv").write_text(RAW)
    for script in ("prep.py", "train.py", "eval.py"):
        run_ok(roar_cli, "run", "python", script, cwd=cwd)


def test_registered_artifact_is_reproduced_byte_identical_in_a_fresh_directory(
    roar_cli,
    git_project: GitProject,
    file_server: FileServer,
    glaas_url: str,
    tmp_path: Path,
) -> None:  # type: ignore[no-untyped-def]
    # given: a build step, a get over HTTP, three run steps (one writes a composite),
    # recorded in a work tree whose remote is a bare repository, and registered
    (file_server.root / "raw.csv").write_text(RAW)
    record_pipeline(roar_cli, git_project, f"{file_server.url}/raw.csv")
    original = git_project.root
    metrics = b3(original / "metrics.json")
    run_ok(roar_cli, "config", "set", "glaas.url", glaas_url, cwd=original)
    run_ok(roar_cli, "register", "-y", cwd=original)  # the session, as `roar register` does

    # when: someone else, with only the hash, reproduces it in a fresh directory
    fresh = tmp_path / "elsewhere"
    fresh.mkdir()
    other = {"HOME": str(tmp_path / "bob"), "XDG_CONFIG_HOME": str(tmp_path / "bob" / ".config")}
    run_ok(roar_cli, "init", "-n", cwd=fresh, env=other)
    run_ok(roar_cli, "config", "set", "glaas.url", glaas_url, cwd=fresh, env=other)
    plan = run_ok(roar_cli, "reproduce", metrics, cwd=fresh, env=other)
    result = run_ok(roar_cli, "reproduce", metrics, "--run", "-y", "--json", cwd=fresh, env=other)

    # then: the plan named the code, the steps in order and where each input comes from
    assert f"repository: {git_project.origin}" in plan.stdout
    steps = [line.split()[:2] for line in plan.stdout.splitlines() if line.startswith("  ")
             and line.split()[1:2] in (["run"], ["build"])]  # fmt: skip
    assert steps == [["@B1", "build"], ["@3", "run"], ["@4", "run"], ["@5", "run"]]
    assert f"obtainable    {b3(original / 'data/raw.csv')[:12]}" in plan.stdout
    assert "in repository" in plan.stdout and "MISSING" not in plan.stdout
    # and every artifact came out byte-identical, the composite included
    out = json.loads(result.stdout)["result"]
    assert out["identical"] is True and out["first_divergence"] is None
    made = {a["path"]: a for a in out["artifacts"]}
    assert set(made) == {"lib/vocab.txt", "clean.csv", "model", "metrics.json"}
    assert made["metrics.json"]["actual"] == metrics
    where = Path(out["directory"])
    assert where.parent == fresh
    assert (where / "metrics.json").read_bytes() == (original / "metrics.json").read_bytes()
    assert (where / "model" / "weights.bin").read_bytes() == (
        original / "model" / "weights.bin"
    ).read_bytes()
    assert [r for r in file_server.requests if r[0] == "GET"] == [("GET", "/raw.csv", None)] * 2


def test_a_step_that_writes_the_time_is_reported_as_the_first_divergence(
    roar_cli,
    git_project: GitProject,
    tmp_path: Path,
) -> None:  # type: ignore[no-untyped-def]
    record_pipeline(roar_cli, git_project, None)
    run_ok(roar_cli, "run", "python", "stamp.py", cwd=git_project.root)
    stamp = b3(git_project.root / "stamp.txt")

    result = roar_cli("reproduce", stamp, "--run", "-y", "--dir", str(tmp_path / "again"),
                      cwd=git_project.root)  # fmt: skip

    assert result.returncode == 1, result.stderr
    assert "first divergence: step @5 (python stamp.py)" in result.stdout
    lines = result.stdout.splitlines()
    assert any(ln.split()[:3] == ["identical", b3(git_project.root / "clean.csv")[:12], "@2"]
               for ln in lines)  # fmt: skip
    assert any(ln.split()[:2] == ["DIFFERS", stamp[:12]] for ln in lines)


def test_a_missing_input_stops_before_anything_is_made(
    roar_cli,
    git_project: GitProject,
    tmp_path: Path,
) -> None:  # type: ignore[no-untyped-def]
    record_pipeline(roar_cli, git_project, None)
    metrics = b3(git_project.root / "metrics.json")
    raw = b3(git_project.root / "data" / "raw.csv")
    shutil.rmtree(git_project.root / "data")

    plan = roar_cli("reproduce", metrics, cwd=git_project.root)
    result = roar_cli("reproduce", metrics, "--run", "-y", "--dir", str(tmp_path / "again"),
                      cwd=git_project.root)  # fmt: skip

    assert f"MISSING       {raw[:12]}  {git_project.root}/data/raw.csv" in plan.stdout
    assert plan.returncode == 11
    assert result.returncode == 11
    assert f"missing input: {git_project.root}/data/raw.csv ({raw[:12]})" in result.stderr
    assert not (tmp_path / "again").exists() and "reproduced" not in result.stdout


def test_an_unreachable_repository_stops_with_a_clear_message(
    roar_cli,
    git_project: GitProject,
    tmp_path: Path,
) -> None:  # type: ignore[no-untyped-def]
    record_pipeline(roar_cli, git_project, None)
    metrics = b3(git_project.root / "metrics.json")
    git_project.origin.rename(tmp_path / "moved.git")

    result = roar_cli("reproduce", metrics, "--run", "-y", "--dir", str(tmp_path / "again"),
                      cwd=git_project.root)  # fmt: skip

    assert result.returncode == 11
    assert f"cannot clone the repository {git_project.origin}" in result.stderr
    assert not (tmp_path / "again").exists() and "reproduced" not in result.stdout


def test_a_commit_that_no_longer_exists_stops_with_a_clear_message(
    roar_cli,
    git_project: GitProject,
    tmp_path: Path,
) -> None:  # type: ignore[no-untyped-def]
    from dulwich import porcelain

    record_pipeline(roar_cli, git_project, None)
    metrics = b3(git_project.root / "metrics.json")
    recorded = porcelain.open_repo(str(git_project.root)).head().decode()
    # The remote's history is rewritten: a new repository with other commits only.
    shutil.rmtree(git_project.origin)
    porcelain.init(str(git_project.origin), bare=True)
    rewritten = tmp_path / "rewritten"
    porcelain.init(str(rewritten))
    (rewritten / "README").write_text("new history\n")
    porcelain.add(str(rewritten), [str(rewritten / "README")])
    porcelain.commit(str(rewritten), message=b"new", author=b"x <x@x>", committer=b"x <x@x>")
    porcelain.push(str(rewritten), str(git_project.origin), b"master", errstream=sys.stderr.buffer)

    result = roar_cli("reproduce", metrics, "--run", "-y", "--dir", str(tmp_path / "again"),
                      cwd=git_project.root)  # fmt: skip

    assert result.returncode == 11
    assert f"commit {recorded[:12]} no longer exists in {git_project.origin}" in result.stderr
    assert not (tmp_path / "again").exists() and "reproduced" not in result.stdout


def test_a_package_that_cannot_be_installed_stops_with_a_clear_message(
    roar_cli,
    git_project: GitProject,
    tmp_path: Path,
) -> None:  # type: ignore[no-untyped-def]
    # given: a step run by an interpreter whose environment had a package it imported,
    # gone now (the venv was removed: another machine)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    dist = site / "roar_gone_package-9.9.9.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Name: roar-gone-package\nVersion: 9.9.9\n")
    (dist / "RECORD").write_text("roar_gone_package.py,,\n")
    (site / "roar_gone_package.py").write_text("VALUE = 'hi'\n")
    git_project.commit({"hello.py": "import roar_gone_package as g\n"
                                    "open('hello.txt', 'w').write(g.VALUE)\n"})  # fmt: skip
    run_ok(roar_cli, "init", "-n", cwd=git_project.root)
    run_ok(roar_cli, "run", str(venv / "bin" / "python"), "hello.py", cwd=git_project.root)
    shutil.rmtree(venv)
    hello = b3(git_project.root / "hello.txt")

    listed = run_ok(roar_cli, "reproduce", hello, "--list-requirements", cwd=git_project.root)
    # Only loopback: an index that is not there, so pip fails fast and offline.
    offline = {"PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_RETRIES": "0",
               "PIP_TIMEOUT": "2", "PIP_NO_CACHE_DIR": "1"}  # fmt: skip
    result = roar_cli("reproduce", hello, "--run", "-y", "--dir", str(tmp_path / "again"),
                      cwd=git_project.root, env=offline)  # fmt: skip

    assert "roar-gone-package==9.9.9" in listed.stdout.splitlines()
    assert result.returncode == 11
    assert "cannot install the recorded packages" in result.stderr
    assert "roar-gone-package==9.9.9" in result.stderr
    assert not (tmp_path / "again").exists() and "reproduced" not in result.stdout


def test_script_writes_the_plan_as_an_editable_shell_script(
    roar_cli,
    git_project: GitProject,
    tmp_path: Path,
) -> None:  # type: ignore[no-untyped-def]
    record_pipeline(roar_cli, git_project, None)
    metrics = b3(git_project.root / "metrics.json")

    run_ok(roar_cli, "reproduce", metrics, "--script", str(tmp_path / "plan.sh"),
           cwd=git_project.root)  # fmt: skip

    text = (tmp_path / "plan.sh").read_text()
    assert os.access(tmp_path / "plan.sh", os.X_OK)
    assert f"git clone -q -- {git_project.origin}" in text
    order = [
        text.index(f"roar {kind} python {s}")
        for kind, s in (
            ("build", "build.py"),
            ("run", "prep.py"),
            ("run", "train.py"),
            ("run", "eval.py"),
        )
    ]
    assert order == sorted(order)
    assert f"cp -- {git_project.root}/data/raw.csv" in text


def test_the_script_runs_from_any_directory_with_a_relative_dir(
    roar_cli,
    git_project: GitProject,
    tmp_path: Path,
) -> None:  # type: ignore[no-untyped-def]
    record_pipeline(roar_cli, git_project, None)
    metrics = b3(git_project.root / "metrics.json")
    run_ok(roar_cli, "reproduce", metrics, "--script", str(tmp_path / "plan.sh"),
           cwd=git_project.root)  # fmt: skip
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("ROAR_WORKSPACE", None)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env["PATH"]
    # the default directory is relative: every step's `cd` must still find it
    run = subprocess.run(["bash", str(tmp_path / "plan.sh")], cwd=empty, env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert run.returncode == 0, (run.stdout, run.stderr)
    made = empty / f"reproduce-{metrics[:12]}"
    assert b3(made / "metrics.json") == metrics
    assert b3(made / "model" / "weights.bin") == b3(git_project.root / "model" / "weights.bin")


@pytest.mark.parametrize("flag", ["--json"])
def test_plan_json_lists_steps_inputs_and_packages(
    roar_cli,
    git_project: GitProject,
    flag: str,
) -> None:  # type: ignore[no-untyped-def]
    record_pipeline(roar_cli, git_project, None)
    metrics = b3(git_project.root / "metrics.json")

    plan = json.loads(run_ok(roar_cli, "reproduce", metrics, flag, cwd=git_project.root).stdout)

    assert [s["step"] for s in plan["steps"]] == ["@B1", "@2", "@3", "@4"]
    statuses = {os.path.basename(i["path"]): i["status"] for i in plan["inputs"]}
    assert statuses == {"raw.csv": "available", "vocab.src": "repository",
                        "prep.py": "repository", "train.py": "repository",
                        "eval.py": "repository", "build.py": "repository"}  # fmt: skip
    assert plan["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
