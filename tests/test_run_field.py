"""`roar run` is invisible (issue: the tracer in the field): descriptors,
signals, a real terminal and a ptrace-based profiler, each run untraced
(the ground truth) and under the whole `roar run`, compared on exit status,
stdout, files on disk, and what the job recorded."""

from __future__ import annotations

import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import blake3
import pytest

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def env() -> dict[str, str]:
    full = {**os.environ, "NO_COLOR": "1"}
    full.pop("ROAR_WORKSPACE", None)
    full["PATH"] = f"{VENV_BIN}{os.pathsep}{full.get('PATH', '')}"
    return full


def bash(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # Not a sub-make of whatever make runs the tests.
    clean = {k: v for k, v in env().items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    return subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=clean, capture_output=True, text=True, timeout=60
    )


def roar(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "roar", *args], cwd=cwd, env=env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def last_job(cwd: Path) -> dict:  # type: ignore[type-arg]
    step = json.loads(roar("log", "--json", cwd=cwd))[0]["step"]
    return json.loads(roar("show", step, "--json", cwd=cwd))  # type: ignore[no-any-return]


@pytest.fixture
def side(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Two directories prepared alike: `plain` (untraced) and `traced` (a
    roar workspace)."""
    plain, traced = tmp_path / "plain", tmp_path / "traced"
    for d in (plain, traced):
        d.mkdir()
    roar("init", "-n", cwd=traced)
    return plain, traced


def test_a_descriptor_above_2_reaches_the_command(side) -> None:  # type: ignore[no-untyped-def]
    plain, traced = side
    for d in side:
        (d / "a.txt").write_text("via fd 3\n")
    want = bash("sh -c 'cat <&3' 3<a.txt", plain)
    got = bash("roar run -q sh -c 'cat <&3' 3<a.txt", traced)
    assert (got.returncode, got.stdout) == (want.returncode, want.stdout) == (0, "via fd 3\n")
    job = last_job(traced)
    assert job["exit_code"] == 0
    # The shell opened a.txt for the command: what the command read.
    assert recorded(job, "inputs", traced) == {"a.txt": b3(b"via fd 3\n")}


def b3(content: bytes) -> str:
    return blake3.blake3(content).hexdigest()


def recorded(job: dict, key: str, root: Path) -> dict[str, str]:  # type: ignore[type-arg]
    """The job's inputs or outputs inside `root`: relative path -> hash."""
    real = root.resolve()
    return {
        str(Path(a["path"]).relative_to(real)): a["hash"]
        for a in job[key]
        if Path(a["path"]).is_relative_to(real)
    }


def same_files(plain: Path, traced: Path) -> None:
    """The same files with the same content in both directories (the
    workspace's .roar/ aside)."""

    def files(root: Path) -> dict[str, bytes]:
        return {
            str(p.relative_to(root)): p.read_bytes()
            for p in root.rglob("*")
            if p.is_file() and ".roar" not in p.relative_to(root).parts
        }

    assert files(traced) == files(plain)


def both(side, script: str, files: dict[str, str]) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """Writes `files` into both directories, runs `script` (a bash line whose
    ROAR is empty untraced and `roar run -q` traced) in each, checks they
    did the same, and returns the traced job."""
    plain, traced = side
    for d in side:
        for name, content in files.items():
            (d / name).write_text(content)
    want = bash(script.replace("ROAR ", ""), plain)
    got = bash(script.replace("ROAR ", "roar run -q "), traced)
    assert (got.returncode, got.stdout) == (want.returncode, want.stdout), got.stderr
    same_files(plain, traced)
    return last_job(traced)


def test_a_file_on_stdin_is_an_input(side) -> None:  # type: ignore[no-untyped-def]
    job = both(side, "ROAR wc -l < data.csv", {"data.csv": "a,b\n1,2\n"})
    assert recorded(job, "inputs", side[1]) == {"data.csv": b3(b"a,b\n1,2\n")}
    assert job["outputs"] == []


def test_files_written_through_redirections_are_not_outputs(side) -> None:  # type: ignore[no-untyped-def]
    # `> out.csv`, `>> out.log`, `2>&1`: the shell's files, not the job's outputs
    # (docs/tracer.md): a log that existed before the job is not deleted by `roar pop`,
    # and roar's own messages on a shared stderr never make a recorded hash wrong.
    job = both(side, "ROAR python gen.py > out.csv", {"gen.py": "print('x,y')\n"})
    assert job["outputs"] == []
    assert recorded(job, "inputs", side[1]) == {"gen.py": b3(b"print('x,y')\n")}
    script = "ROAR sh -c 'echo out; echo err >&2' >> out.log 2>> err.log 3>> quiet.log 4> none.txt"
    job = both(side, script, {"out.log": "before\n", "err.log": "", "quiet.log": "kept\n"})
    assert (job["inputs"], job["outputs"]) == ([], [])
    roar("pop", "-y", cwd=side[1])
    assert (side[1] / "out.log").read_text() == "before\nout\n"


def test_a_read_write_descriptor_is_neither(side) -> None:  # type: ignore[no-untyped-def]
    # What rw.txt held at the start can't be told from what the command left there.
    job = both(side, "ROAR sh -c 'cat <&5; echo new >&5' 5<> rw.txt", {"rw.txt": "old\n"})
    assert (job["inputs"], job["outputs"]) == ([], [])


def test_pipes_devices_the_store_and_ignored_files_on_descriptors_are_not_recorded(side) -> None:  # type: ignore[no-untyped-def]
    roar("config", "set", "filters.ignore_patterns", "*.log", cwd=side[1])
    script = (
        "echo piped | ROAR sh -c 'cat; cat <&3; cat <&4; echo to-log >&5' "
        "3< .roar/HEAD 4< /dev/null 5> run.log 2> /dev/null | cat"
    )
    job = both(side, script.replace(".roar/HEAD", "head.txt"), {"head.txt": "ref\n"})
    assert recorded(job, "inputs", side[1]) == {"head.txt": b3(b"ref\n")}
    got = bash(script.replace("ROAR ", "roar run -q "), side[1])
    assert got.returncode == 0 and got.stdout.startswith("piped\nref: "), got.stderr
    job = last_job(side[1])
    assert (job["inputs"], job["outputs"]) == ([], [])


def test_a_process_substitution_reaches_the_command(side) -> None:  # type: ignore[no-untyped-def]
    plain, traced = side
    want = bash("cat <(echo hi)", plain)
    got = bash("roar run -q cat <(echo hi)", traced)
    assert (got.returncode, got.stdout, got.stderr) == (want.returncode, want.stdout, "")
    assert want.stdout == "hi\n"


def test_a_sub_make_under_make_j_keeps_its_jobserver(side) -> None:  # type: ignore[no-untyped-def]
    plain, traced = side
    sub = "all: a b\na:\n\t@echo a > a.out\nb:\n\t@echo b > b.out\n"
    for d, prefix in ((plain, ""), (traced, "roar run -q ")):
        (d / "sub").mkdir()
        (d / "sub" / "Makefile").write_text(sub)
        (d / "Makefile").write_text(f"all:\n\t+@{prefix}$(MAKE) --no-print-directory -C sub\n")
    want = bash("make -j2", plain)
    got = bash("make -j2", traced)
    assert "jobserver" not in got.stderr, got.stderr
    assert (got.returncode, got.stdout, got.stderr) == (want.returncode, want.stdout, want.stderr)
    for name in ("a.out", "b.out"):
        assert (traced / "sub" / name).read_text() == (plain / "sub" / name).read_text()
    outputs = {Path(o["path"]).name for o in last_job(traced)["outputs"]}
    assert outputs == {"a.out", "b.out"}


# Counts the SIGINT/SIGTERM/SIGHUP/SIGUSR1 it receives: after the first it
# waits long enough for a duplicate to arrive, writes the count, and exits
# 130 (or 0 for SIGUSR1).
COUNTER = """
import signal, sys, time
got = []
def on(sig, _):
    got.append(sig)
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1):
    signal.signal(s, on)
open('ready', 'w').write('1')
print('ready', flush=True)
deadline = time.time() + 20
while not got and time.time() < deadline:
    time.sleep(0.01)
time.sleep(0.5)
open('count', 'w').write(','.join(str(int(s)) for s in got))
sys.exit(0 if got == [signal.SIGUSR1] else 130)
"""


def wait_ready(d: Path) -> None:
    deadline = time.time() + 30
    while not (d / "ready").exists() and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)


@pytest.mark.parametrize(
    "sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1], ids=lambda s: s.name
)
def test_a_signal_sent_to_roar_reaches_the_command_once(side, sig) -> None:  # type: ignore[no-untyped-def]
    plain, traced = side
    results = []
    for d, argv in (
        (plain, [sys.executable, "-c", COUNTER]),
        (traced, [sys.executable, "-m", "roar", "run", "-q", sys.executable, "-c", COUNTER]),
    ):
        proc = subprocess.Popen(argv, cwd=d, env=env(), stdout=subprocess.PIPE, text=True)
        wait_ready(d)
        os.kill(proc.pid, sig)  # kill -SIG <pid of roar run>
        out, _ = proc.communicate(timeout=60)
        results.append((proc.returncode, out, (d / "count").read_text()))
    expected = (0 if sig == signal.SIGUSR1 else 130, "ready\n", str(sig.value))
    assert results[1] == results[0] == expected
    assert last_job(traced)["interrupted"] is (sig != signal.SIGUSR1)


def run_in_a_terminal(argv: list[str], cwd: Path) -> tuple[int, bytes]:
    """Runs argv as the foreground job of a new pseudo-terminal, types
    Ctrl-C once it is ready, and returns its exit code and what it printed."""
    pid, master = pty.fork()
    if pid == 0:  # the child: session leader with the pty as its terminal
        try:
            os.chdir(cwd)
            os.execvpe(argv[0], argv, env())
        finally:
            os._exit(127)
    output = b""
    deadline = time.time() + 60
    typed = False
    while time.time() < deadline:
        if not typed and (cwd / "ready").exists():
            time.sleep(0.1)
            os.write(master, b"\x03")  # Ctrl-C: the terminal signals the foreground group
            typed = True
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break  # EIO: the terminal's last user is gone
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    os.close(master)
    return os.waitstatus_to_exitcode(status), output


def test_ctrl_c_in_a_real_terminal_reaches_the_command_once(side) -> None:  # type: ignore[no-untyped-def]
    plain, traced = side
    want = run_in_a_terminal([sys.executable, "-c", COUNTER], plain)
    got = run_in_a_terminal(
        [sys.executable, "-m", "roar", "run", "-q", sys.executable, "-c", COUNTER], traced
    )
    assert want[0] == got[0] == 130
    once = str(signal.SIGINT.value)
    assert (traced / "count").read_text() == (plain / "count").read_text() == once
    assert last_job(traced)["interrupted"] is True


def test_py_spy_profiles_a_job_and_both_are_recorded(side) -> None:  # type: ignore[no-untyped-def]
    py_spy = shutil.which("py-spy", path=str(VENV_BIN)) or shutil.which("py-spy")
    assert py_spy, "py-spy is a dev dependency (pip install -e '.[dev]')"
    plain, traced = side
    script = (
        "import time\nt = time.time()\nwhile time.time() - t < 0.6: pass\n"
        "open('out.txt', 'w').write('done\\n')\nprint('finished')\n"
    )
    results = []
    for d, prefix in ((plain, []), (traced, [sys.executable, "-m", "roar", "run", "-q"])):
        (d / "busy.py").write_text(script)
        argv = [py_spy, "record", "--format", "raw", "-o", "profile.txt", "-r", "50", "--"]
        done = subprocess.run(
            [*prefix, *argv, sys.executable, "busy.py"],
            cwd=d, env=env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        results.append(done)
    want, got = results
    assert got.returncode == want.returncode == 0, got.stderr
    assert "finished" in got.stdout and "Samples:" in got.stdout + got.stderr
    assert (traced / "out.txt").read_text() == (plain / "out.txt").read_text()
    assert (traced / "profile.txt").stat().st_size > 0
    outputs = {Path(o["path"]).name for o in last_job(traced)["outputs"]}
    assert outputs == {"out.txt", "profile.txt"}
    inputs = {Path(i["path"]).name for i in last_job(traced)["inputs"]}
    assert "busy.py" in inputs


def test_tracer_check_says_which_mechanism_and_what_it_means(tmp_path: Path) -> None:
    info = json.loads(roar("tracer", "check", "--json", cwd=tmp_path))
    assert info["ready"] is True
    assert info["mechanism"] == ("notify" if info["notify"] else "ptrace")
    text = roar("tracer", "check", cwd=tmp_path)
    assert f"  debuggers: {info['debuggers']}\n" in text
    assert f"  setuid: {info['setuid']}\n" in text
    if info["mechanism"] == "notify":
        assert "seccomp user notification" in text and info["debuggers"].startswith("work inside")
    assert info["setuid"].startswith("keep their privileges") is info["privileged"]

    forced = subprocess.run(
        [sys.executable, "-m", "roar", "tracer", "check", "--json"],
        cwd=tmp_path, env={**env(), "ROAR_TRACER_MECHANISM": "ptrace"},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    fallback = json.loads(forced.stdout)
    assert fallback["mechanism"] == "ptrace"
    assert fallback["debuggers"].startswith("cannot run inside roar run")
