"""Glue to the Rust tracer binary: find it and check it.

Commands run under it through the Rust front end (`roar run`, which is the
same binary); Python only asks it about the machine (`--preflight`) and for
plumbing answers (git state, an interpreter's packages).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, NamedTuple

from roar.errors import RoarError, TracerUnavailable

BINARY = "roar-tracer"


def find_tracer(configured: str = "") -> Path:
    """$ROAR_TRACER, else config tracer.path, else the packaged binary, else PATH."""
    env = os.environ.get("ROAR_TRACER") or configured
    if env:
        path = Path(env)
        if os.access(path, os.X_OK):
            return path
        raise TracerUnavailable(f"tracer {env} is not an executable file")
    packaged = Path(__file__).resolve().parent.parent / BINARY
    if os.access(packaged, os.X_OK):
        return packaged
    found = shutil.which(BINARY)
    if found:
        return Path(found)
    raise TracerUnavailable(
        "the roar tracer is not installed: reinstall roar with Rust's cargo on PATH "
        "(pip install --force-reinstall roar), or point ROAR_TRACER at a roar-tracer binary"
    )


class TracerFailed(RoarError):
    """A plumbing subcommand of the tracer exited non-zero; the message is its stderr."""


def ask(args: list[str], *, stdin: bytes | None = None, timeout: float = 300) -> Any:
    """The JSON answer of `roar-tracer ARGS`, one of the plumbing subcommands through
    which Python asks the rules that live in Rust (git-state, remote-branch,
    packages-read, python-env: docs/tracer.md). Raises TracerUnavailable without a
    binary, TracerFailed when it exits non-zero, subprocess.TimeoutExpired after
    `timeout` seconds."""
    proc = subprocess.run(
        [str(find_tracer()), *args], input=stdin, capture_output=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise TracerFailed(proc.stderr.decode(errors="replace").strip())
    return json.loads(proc.stdout)


class Preflight(NamedTuple):
    ready: bool
    details: dict[str, Any]

    @property
    def problems(self) -> list[str]:
        return list(self.details.get("problems", []))


def preflight(tracer: Path | None = None, command: str | None = None) -> Preflight:
    """The tracer's preflight (tracer/src/preflight.rs). With `command` (a program name
    or path), `details["command"]` is what the mechanism found means for that program
    (tracer/src/program.rs: `{asked, path, ok, checks: [{name, ok, detail}]}`); the
    program is examined, never run, and its verdict does not change `ready`."""
    tracer = tracer or find_tracer()
    asked = ["--command", command] if command is not None else []
    try:
        proc = subprocess.run(
            [str(tracer), "--preflight", "--json", *asked],
            capture_output=True,
            text=True,
            timeout=30,
        )
        details = json.loads(proc.stdout)
    except (OSError, ValueError, subprocess.TimeoutExpired) as e:
        return Preflight(False, {"problems": [f"{tracer} --preflight failed: {e}"]})
    # exit 1 with a ready tracer: the program's checks failed
    exited = proc.returncode == 0 or (command is not None and proc.returncode == 1)
    return Preflight(bool(details.get("ready")) and exited, details)
