"""`roar run` and `roar build` from Python: hand them to the Rust front end.

The front end (the `roar` binary, also packaged as roar/roar-tracer) parses
the options and does the whole run in one process: context, tracer, job,
step. What stays here is what needs the object model: a re-run, `roar run
@N --k=v`. The front end sends it back as `run --rerun FLAGS -- @N
OVERRIDES...` (its options already checked); this side resolves the step
to its recorded command, applies the overrides, changes to the step's
directory and hands it over again with `--step`/`--supersedes`/`--param`.
No click here (run_command.py holds the click wrappers for help).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import NoReturn

# roar-cli 0.4.7 chooses among three tracers; roar has one (seccomp notification or ptrace),
# so these names are accepted and mean the same thing (the front end checks them; help
# lists them).
TRACER_NAMES = ("auto", "ebpf", "preload", "ptrace")
HASH_ALGORITHMS = ("blake3", "sha256", "sha512", "md5")
RERUN = "--rerun"


def main_fast(step_kind: str, args: list[str]) -> None:
    """`roar run`/`roar build` without click, with the same error edge as the CLI."""
    from roar.cli.edge import guarded

    def go() -> int:
        if args[:1] == [RERUN] and "--" in args:
            cut = args.index("--")
            spec, *overrides = args[cut + 1 :]
            rerun(args[1:cut], spec, overrides)
        hand_over([step_kind, *args])

    sys.exit(guarded(go))


def apply_overrides(argv: list[bytes], overrides: list[str]) -> list[bytes]:
    """Replace `--k=v` / `--k v` values in a recorded argv; append unknown ones, and
    any other argument (`roar run @3 extra`), as typed after the command."""
    out = list(argv)
    for override in overrides:
        if not is_override(override):
            out.append(override.encode())
            continue
        key, value = override.encode().split(b"=", 1)
        for i, arg in enumerate(out):
            if arg.startswith(key + b"="):
                out[i] = key + b"=" + value
                break
            if arg == key and i + 1 < len(out):
                out[i + 1] = value
                break
        else:
            out.append(key + b"=" + value)
    return out


def is_override(arg: str) -> bool:
    """Whether an argument after `@N` replaces a recorded value (`--name=value`)
    rather than being appended to the command."""
    return arg.startswith("--") and "=" in arg


def rerun(flags: list[str], spec: str, overrides: list[str]) -> NoReturn:
    """Run step `spec` (`@N`, `@BN`) again, in its directory, with overrides."""
    from roar.index.session_index import SessionIndex
    from roar.lineage.chain import find_step
    from roar.objects.job import Job
    from roar.workspace import Workspace

    ws = Workspace.find()
    target = find_step(SessionIndex(ws).steps(ws.refs.head_target()), spec)
    job = ws.objects.read_kind(target.job, Job)
    command = apply_overrides(list(job.argv), overrides)
    os.chdir(os.fsdecode(job.cwd))
    rerun_flags = ["--step", str(target.step), "--supersedes", target.job]
    for override in filter(is_override, overrides):
        rerun_flags += ["--param", override[2:]]
    hand_over([target.step_kind, *flags, *rerun_flags, "--", *map(os.fsdecode, command)])


def front_end() -> Path:
    """The Rust front end (the package's roar-tracer binary, which is `roar` too)."""
    from roar.capture.tracer import BINARY

    packaged = Path(__file__).resolve().parent.parent / BINARY
    if os.access(packaged, os.X_OK):
        return packaged
    from roar.errors import TracerUnavailable

    raise TracerUnavailable(
        "the roar tracer is not installed: reinstall roar with Rust's cargo on PATH "
        "(pip install --force-reinstall roar)"
    )


def hand_over(args: list[str]) -> NoReturn:
    """Replace this process with `roar ARGS...` run by the front end."""
    binary = front_end()
    env = {**os.environ, "ROAR_PYTHON": sys.executable}
    # Python ignores these at start-up; the command must get the defaults.
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(binary, ["roar", *args], env)
