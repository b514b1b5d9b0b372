"""The Rust front end of `roar run`: what it records beside the command.

The git state is the one at the start even when the command edits a
tracked file at once; a tracked file whose name is not UTF-8 is recorded
like any other; the env snapshot names the command's interpreter; run and
build need no Python; the configuration is read from its one source.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pipeline import last_job

from roar.objects.env import Env
from roar.workspace import Workspace

GIT = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]


def git(cwd: Path, *args: str) -> str:
    out = subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True)
    return out.stdout.decode()


def repo(root: Path, files: dict[bytes, bytes]) -> str:
    """A git repository at root tracking `files`, committed; returns HEAD."""
    git(root, "init", "-q", "-b", "main")
    for name, content in files.items():
        path = os.fsencode(root) + b"/" + name
        with open(path, "wb") as f:
            f.write(content)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "first")
    return git(root, "rev-parse", "HEAD").strip()


EDIT_AT_ONCE = "open('train.py', 'a').write('# edited by the command\\n')"


def test_git_state_is_the_one_at_the_start_even_if_the_command_edits_a_tracked_file(
    roar_cli, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    # Given a clean repository large enough that reading its state takes
    # longer than a shell takes to start, when the command's first act is
    # to edit a tracked file, the job still says: clean at the start, at HEAD.
    files = {f"data/{i:05}.txt".encode(): b"%d\n" % i for i in range(8000)}
    os.mkdir(tmp_path / "data")
    head = repo(tmp_path, {**files, b"train.py": b"print('train')\n", b".gitignore": b".roar/\n"})
    roar_cli("init", "-n")
    result = roar_cli("run", "/bin/sh", "-c", "echo '# edited' >> train.py")
    assert result.returncode == 0, result.stderr
    assert "dirty" not in result.stderr
    ctx = last_job(tmp_path).context["git"]
    assert (ctx["commit"], ctx["dirty"], ctx["patch"], ctx["branch"]) == (head, False, None, "main")
    assert (tmp_path / "train.py").read_text() == "print('train')\n# edited\n"
    # The next run starts from the edited tree: dirty, with that edit.
    roar_cli("run", "true")
    assert last_job(tmp_path).context["git"]["dirty"] is True


def test_a_tree_dirty_at_the_start_records_that_patch_not_the_commands_edit(
    roar_cli, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    repo(tmp_path, {b"train.py": b"print('train')\n", b".gitignore": b".roar/\n"})
    roar_cli("init", "-n")
    (tmp_path / "train.py").write_text("print('tweaked')\n")
    result = roar_cli("run", "python", "-c", EDIT_AT_ONCE)
    assert "warning: git work tree is dirty" in result.stderr
    ctx = last_job(tmp_path).context["git"]
    patch = Workspace(tmp_path).objects.read(ctx["patch"]).data  # type: ignore[attr-defined]
    assert ctx["dirty"] is True
    assert b"+print('tweaked')\n" in patch and b"edited by the command" not in patch
    # The recorded patch applies to the commit with git itself.
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(tmp_path), str(clone))
    (clone / "roar.patch").write_bytes(patch)
    git(clone, "apply", "roar.patch")
    assert (clone / "train.py").read_text() == "print('tweaked')\n"


def test_a_tracked_file_whose_name_is_not_utf8_is_recorded_like_any_other(
    roar_cli, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    name = b"caf\xe9.csv"
    repo(tmp_path, {name: b"a,b\n", b".gitignore": b".roar/\n"})
    roar_cli("init", "-n")
    clean = roar_cli("run", "python", "-c", "pass")
    assert clean.returncode == 0 and "Traceback" not in clean.stderr, clean.stderr
    assert last_job(tmp_path).context["git"]["dirty"] is False
    with open(os.fsencode(tmp_path) + b"/" + name, "ab") as f:
        f.write(b"1,2\n")
    code = f"open({os.fsencode(tmp_path) + b'/' + name!r}, 'rb').read()"
    dirty = roar_cli("run", "python", "-c", code)
    assert dirty.returncode == 0, dirty.stderr
    job = last_job(tmp_path)
    patch = Workspace(tmp_path).objects.read(job.context["git"]["patch"]).data  # type: ignore[attr-defined]
    assert b"diff --git a/caf\xe9.csv b/caf\xe9.csv" in patch and b"+1,2\n" in patch
    assert [a.path for a in job.inputs] == [os.fsencode(tmp_path) + b"/" + name]


def test_the_env_snapshot_names_the_commands_interpreter_and_its_packages(
    roar_cli, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    import importlib.metadata

    roar_cli("init", "-n")
    assert roar_cli("run", "python", "-c", "pass").returncode == 0
    env = Workspace(tmp_path).objects.read(last_job(tmp_path).context["env"])
    assert isinstance(env, Env)
    assert env.python is not None
    assert env.python["version"] == ".".join(map(str, sys.version_info[:3]))
    assert os.path.realpath(os.fsdecode(env.python["executable"])) == os.path.realpath(
        sys.executable
    )
    assert ("click", importlib.metadata.version("click")) in env.packages
    assert env.cpu["cores"] == os.cpu_count() and env.os["system"] == "Linux"
    # Same machine, same interpreter: the next run shares the object.
    assert roar_cli("run", "python", "-c", "pass").returncode == 0
    assert last_job(tmp_path).context["env"] == env.id


def test_run_and_build_need_no_python_and_everything_else_is_handed_over(
    roar_cli, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    # A copy of the front end with no roar-py beside it and no Python caller.
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(Path(sys.executable).parent / "roar", alone / "roar")
    roar_cli("init", "-n")
    env = {k: v for k, v in os.environ.items() if k != "ROAR_PYTHON"}
    run = subprocess.run(
        [str(alone / "roar"), "run", "-q", "/bin/sh", "-c", "echo hi > out.txt"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "out.txt").read_text() == "hi\n"
    assert [a.path for a in last_job(tmp_path).outputs] == [os.fsencode(tmp_path / "out.txt")]
    log = subprocess.run([str(alone / "roar"), "log"], cwd=tmp_path, env=env, capture_output=True)
    assert log.returncode == 7 and b"roar-py" in log.stderr
    # Installed normally, the same subcommands go to Python.
    assert "@1" in roar_cli("log").stdout.split()  # roar-cli's table: header, then @1
    assert "Usage: roar run" in roar_cli("run", "--help").stdout


def test_a_hand_edited_config_is_read_from_the_file_itself(roar_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    roar_cli("init", "-n")
    config = tmp_path / ".roar" / "config.toml"
    # roar init writes every option commented out, at its default.
    config.write_text(config.read_text().replace("# quiet = false", "quiet = true"))
    result = roar_cli("run", "python", "-c", "open('a.txt', 'w').write('a')")
    assert result.returncode == 0 and result.stderr == ""  # output.quiet: no report
    config.write_text(config.read_text().replace("quiet = true", "quiet = false"))
    again = roar_cli("run", "python", "-c", "open('b.txt', 'w').write('b')")
    assert again.stderr.startswith("roar: @2 job ")


def test_another_tracer_binary_is_used_through_its_command_line(roar_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    other = tmp_path / "bin" / "my-tracer"
    other.parent.mkdir()
    shutil.copy(Path(sys.executable).parent / "roar", other)
    roar_cli("init", "-n")
    result = roar_cli(
        "run", "python", "-c", "open('o.txt','w').write('o')", env={"ROAR_TRACER": str(other)}
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("roar: @1 job ")
    job = last_job(tmp_path)
    assert [a.path for a in job.outputs] == [os.fsencode(tmp_path / "o.txt")]
    assert job.context["env"] is not None and job.context["session"] == "refs/sessions/main"


@pytest.mark.parametrize("kind", ["run", "build"])
def test_the_command_line_is_parsed_as_before(roar_cli, tmp_path: Path, kind: str) -> None:  # type: ignore[no-untyped-def]
    roar_cli("init", "-n")
    bad = roar_cli(kind, "--frobnicate", "true")
    assert (bad.returncode, bad.stderr) == (
        2,
        "error: unknown option '--frobnicate' for roar run (see roar run --help)\n",
    )
    empty = roar_cli(kind, "-q")
    assert empty.returncode == 2 and "needs a command" in empty.stderr
    outside = roar_cli(kind, "true", cwd=tmp_path.parent)
    assert outside.returncode == 3 and "not a roar workspace" in outside.stderr
    assert roar_cli(kind, "-q", "--", "true").returncode == 0
    missing = roar_cli(kind, "no-such-program-roar")
    assert missing.returncode == 127 and "command not found" in missing.stderr
    assert json.loads(roar_cli("log", "--json").stdout)[0]["command"] == "true"


def test_a_user_level_setting_reaches_the_front_end(roar_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    home = {"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    roar_cli("init", "-n", env=home)
    assert roar_cli("run", "true", env=home).stderr.startswith("roar: @1 job ")
    assert roar_cli("config", "set", "--global", "output.quiet", "true", env=home).returncode == 0
    assert roar_cli("run", "true", env=home).stderr == ""  # the workspace does not set it
