"""The differential harness: roar-cli 0.4.7 (from PyPI, in a venv of its own) and
roar run the same small pipeline, and the tests compare them command by command.

The venv is made once and kept in `.bench-venvs/roar-cli-0.4.7` (gitignored,
shared with the tracing benchmark's peers). If PyPI cannot be reached the
tests fail and say so: they never skip.

roar-cli is used as a user would use it: its default eBPF tracer records
nothing on these machines, so its workspaces use `roar tracer use preload`;
it ignores /tmp by default (`filters.ignore_tmp_files`), where pytest's
directories are, so that is switched off; its telemetry is off.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROAR_CLI_VERSION = "0.4.7"
REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".bench-venvs" / f"roar-cli-{ROAR_CLI_VERSION}"

PREP = 'open("features.csv", "w").write(open("data.csv").read().upper())\n'
TRAIN = """import sys
lr = ([a.split("=")[1] for a in sys.argv[1:] if a.startswith("--lr=")] or ["0.1"])[0]
open("model.pkl", "w").write(f"model lr={lr} " + open("features.csv").read())
"""
EVALUATE = 'open("metrics.json", "w").write(\'{"n": %d}\' % len(open("model.pkl").read()))\n'
BUILD = 'open("tool.bin", "w").write("built")\n'
IGNORED = "features.csv\nmodel.pkl\nmetrics.json\ntool.bin\nremote.txt\nreq.txt\n"


def ensure_roar_cli() -> Path:
    """The roar-cli executable, installing it from PyPI on first use (under a lock)."""
    roar = VENV / "bin" / "roar"
    VENV.parent.mkdir(exist_ok=True)
    with open(VENV.parent / f".roar-cli-{ROAR_CLI_VERSION}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _version(roar) == ROAR_CLI_VERSION:
            return roar
        made = subprocess.run(
            [sys.executable, "-m", "venv", "--clear", str(VENV)], capture_output=True, text=True
        )
        pip = subprocess.run(
            [
                str(VENV / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "-q",
                f"roar-cli=={ROAR_CLI_VERSION}",
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if made.returncode or pip.returncode or _version(roar) != ROAR_CLI_VERSION:
            pytest.fail(
                f"could not install roar-cli=={ROAR_CLI_VERSION} from PyPI into {VENV} "
                f"(the differential tests need it; is PyPI reachable?):\n"
                f"{made.stderr}{pip.stderr[-2000:]}",
                pytrace=False,
            )
    return roar


def _version(roar: Path) -> str | None:
    if not roar.exists():
        return None
    out = subprocess.run(
        [str(roar), "--version"],
        capture_output=True,
        text=True,
        env=_peer_env(roar.parent.parent / "home"),
    )
    return out.stdout.split()[-1] if out.returncode == 0 and out.stdout.split() else None


def _peer_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROAR_")}
    env.update(
        {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "DO_NOT_TRACK": "1",
            "ROAR_NO_TELEMETRY": "1",
            "NO_COLOR": "1",
            "TERM": "dumb",
            "COLUMNS": "200",
        }
    )
    # `python` in a recorded command is this interpreter, as in an activated venv.
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Tool:
    """One of the two, run as a user runs it, in its own git repository."""

    name: str
    argv0: list[str]
    root: Path
    env: dict[str, str]
    log: list[tuple[tuple[str, ...], Result]] = field(default_factory=list)

    def __call__(self, *args: str, input: str | None = None, ok: bool = True) -> Result:
        proc = subprocess.run(
            [*self.argv0, *args],
            cwd=self.root,
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=300,
        )
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        self.log.append((args, result))
        if ok:
            assert result.returncode == 0, (self.name, args, result.stdout, result.stderr)
        return result


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(root), *args],
        check=True,
        capture_output=True,
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@t",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t",
        },
    )


def make_repo(root: Path) -> None:
    """The pipeline's repository: scripts and data committed, outputs ignored."""
    root.mkdir(parents=True)
    for name, text in {
        "prep.py": PREP,
        "train.py": TRAIN,
        "evaluate.py": EVALUATE,
        "build.py": BUILD,
        "data.csv": "a,b\n1,2\n",
        ".gitignore": IGNORED,
    }.items():
        (root / name).write_text(text)
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "pipeline")


def make_tools(base: Path) -> tuple[Tool, Tool]:
    """(roar-cli, roar), each with its own repository and HOME, initialised."""
    peer_bin = ensure_roar_cli()
    tools = []
    for name, argv0 in (("roar-cli", [str(peer_bin)]), ("roar", [sys.executable, "-m", "roar"])):
        root = base / name / "repo"
        make_repo(root)
        env = _peer_env(base / name / "home")
        tool = Tool(name, argv0, root, env)
        tool("init")
        _git(root, "add", ".gitignore")
        _git(root, "commit", "-qm", "ignore .roar/")
        if name == "roar-cli":
            tool("tracer", "use", "preload")
            tool("config", "set", "filters.ignore_tmp_files", "false")
            tool("config", "set", "hints.enabled", "false")
        tools.append(tool)
    return tools[0], tools[1]


@dataclass
class Pipeline:
    """The same session recorded by both: a build step, prep -> train -> evaluate,
    a named step, a re-run of train that makes evaluate stale, a label."""

    peer: Tool
    ours: Tool
    empty: dict[str, Result]  # what each printed for `dag`, `log`, `status` before any step


TRAIN_STEP = "@3"  # both number build and run steps with one counter: @B1 @2 @3 @4


def record(tool: Tool) -> None:
    tool("build", "python", "build.py")
    tool("run", "--hash", "sha256", "python", "prep.py")
    tool("run", "-n", "training", "python", "train.py", "--lr=0.1")
    tool("label", "show", "job", TRAIN_STEP)
    tool("run", "python", "evaluate.py")
    tool("run", TRAIN_STEP, "--lr=0.5")
    tool("label", "set", "artifact", "model.pkl", "accuracy=0.93")


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    peer, ours = make_tools(tmp_path_factory.mktemp("differential"))
    empty = {}
    for tool in (peer, ours):
        empty[f"{tool.name} dag"] = tool("dag")
        empty[f"{tool.name} dag --json"] = tool("dag", "--json")
        empty[f"{tool.name} log"] = tool("log")
        empty[f"{tool.name} status"] = tool("status")
        record(tool)
    return Pipeline(peer, ours, empty)


@pytest.fixture
def tools(tmp_path: Path) -> tuple[Tool, Tool]:
    """A fresh pair for tests that change the session (pop, reset)."""
    return make_tools(tmp_path)


@pytest.fixture(scope="module")
def http_root(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A plain HTTP server on 127.0.0.1 serving a directory: (url, directory)."""
    root = tmp_path_factory.mktemp("served")
    (root / "remote.txt").write_text("hello\n")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass
