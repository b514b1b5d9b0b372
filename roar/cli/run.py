"""`roar run` and `roar build`: run a command under the tracer, record the job.

No click here: `roar run` parses its own flags (run_command.py holds
the click wrappers for help and for `roar --help`'s listing).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from roar.errors import UsageError

# roar-cli 0.4.7 chooses among three tracers; roar has one (seccomp notification or ptrace),
# so these names are accepted and mean the same thing here.
TRACER_NAMES = ("auto", "ebpf", "preload", "ptrace")
HASH_ALGORITHMS = ("blake3", "sha256", "sha512", "md5")
GPUS_USED_LABEL = "roar.gpus.used"  # comma-separated NVML UUIDs
# roar-cli options that have no counterpart here, with the reason given.
FOREIGN_OPTIONS = {
    "--block-tag": "roar-cli's hereditary compliance tags are not part of roar",
    "--add-tag": "roar-cli's hereditary compliance tags are not part of roar (use `roar label`)",
    "--wandb-to-trackio": "roar does not reroute wandb",
}


@dataclass(frozen=True)
class RunArgs:
    """`roar run|build [OPTIONS] COMMAND...`, parsed (docs/roar-cli-compat.md, `run`)."""

    argv: list[str]
    quiet: bool = False
    verbose: bool = False
    name: str | None = None
    hashes: tuple[str, ...] = ()


def parse_run_args(args: list[str]) -> RunArgs:
    """Parse roar run's options as click would; options end at the first other word.

    -q/--quiet, -v/--verbose (-vv, -qv), -n/--name NAME (also --name=NAME, -nNAME),
    --hash ALGO (repeatable), --tracer NAME and --tracer-fallback/--no-tracer-fallback
    (roar-cli's; accepted), `--` ends the options.
    """
    quiet = verbose = False
    name: str | None = None
    hashes: list[str] = []
    i = 0

    def value(flag: str) -> str:
        nonlocal i
        if i + 1 >= len(args):
            raise UsageError(f"option {flag} needs a value (see roar run --help)")
        i += 1
        return args[i]

    while i < len(args) and args[i].startswith("-"):
        flag = args[i]
        inline = None
        if flag.startswith("--") and "=" in flag:
            flag, inline = flag.split("=", 1)
        if flag == "--":
            i += 1
            break
        if flag in ("-q", "--quiet"):
            quiet = True
        elif flag in ("-v", "--verbose", "-vv"):
            verbose = True
        elif flag in ("-qv", "-vq"):
            quiet = verbose = True
        elif flag in ("-n", "--name"):
            name = inline if inline is not None else value(flag)
        elif flag.startswith("-n") and not flag.startswith("--"):
            name = flag[2:]
        elif flag == "--hash":
            algo = (inline if inline is not None else value(flag)).lower()
            if algo not in HASH_ALGORITHMS:
                raise UsageError(f"--hash takes one of {', '.join(HASH_ALGORITHMS)}, not {algo!r}")
            hashes.append(algo)
        elif flag == "--tracer":
            tracer = inline if inline is not None else value(flag)
            if tracer not in TRACER_NAMES:
                raise UsageError(f"--tracer takes one of {', '.join(TRACER_NAMES)}, not {tracer!r}")
        elif flag in ("--tracer-fallback", "--no-tracer-fallback"):
            pass
        elif flag in FOREIGN_OPTIONS:
            raise UsageError(f"{flag}: {FOREIGN_OPTIONS[flag]}")
        else:
            raise UsageError(f"unknown option {flag!r} for roar run (see roar run --help)")
        i += 1
    if i >= len(args):
        raise UsageError("roar run needs a command to run, e.g. `roar run python train.py`")
    if name is not None and not name.strip():
        raise UsageError("-n/--name needs a non-empty name")
    return RunArgs(args[i:], quiet, verbose, name, tuple(hashes))


def main_fast(step_kind: str, args: list[str]) -> None:
    """`roar run`/`roar build` without click, with the same error edge as the CLI."""
    from roar.cli.edge import guarded

    def go() -> int:
        return record(step_kind, parse_run_args(args))

    sys.exit(guarded(go))


def apply_overrides(argv: list[bytes], overrides: list[str]) -> list[bytes]:
    """Replace `--k=v` / `--k v` values in a recorded argv; append unknown ones."""
    out = list(argv)
    for override in overrides:
        if not override.startswith("--") or "=" not in override:
            raise UsageError(f"override must look like --name=value, not {override!r}")
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


def record(step_kind: str, run: RunArgs) -> int:
    from roar.capture import environment, git, secrets, tracer
    from roar.capture.filters import ignore_prefixes, project_patterns
    from roar.cli.output import warn
    from roar.objects import encoding
    from roar.workspace import Workspace

    argv, quiet, verbose = run.argv, run.quiet, run.verbose
    from roar.config import extra_digests

    ws = Workspace.find()
    also = extra_digests(ws.config, run.hashes)
    tracer_path = tracer.find_tracer(ws.config.get("tracer.path"))
    step: int | None = None
    supersedes: str | None = None
    params = None
    session_ref = ws.refs.head_target()
    if argv[0].startswith("@"):
        from roar.index.session_index import SessionIndex
        from roar.lineage.chain import find_step
        from roar.objects.job import Job

        target = find_step(SessionIndex(ws).steps(session_ref), argv[0])
        job = ws.objects.read_kind(target.job, Job)
        command = apply_overrides(list(job.argv), argv[1:])
        cwd = Path(os.fsdecode(job.cwd))
        step, supersedes, step_kind = target.step, target.job, target.step_kind
        params = dict(o[2:].split("=", 1) for o in argv[1:])
    else:
        command = [os.fsencode(a) for a in argv]
        cwd = Path.cwd()

    git_ctx, state = git.git_context(cwd, ws.objects)
    if state is not None and state.dirty:
        if ws.config.get("run.require_clean"):
            raise UsageError(
                "the git work tree has uncommitted changes and run.require_clean is set; "
                "commit them or `roar config set run.require_clean false`"
            )
        if not quiet:
            warn("git work tree is dirty; the patch is recorded with the job")

    run_env = {**os.environ, **_persistent_env(ws)}
    env_bytes = {os.fsencode(k): os.fsencode(v) for k, v in run_env.items()}
    context = {
        "git": git_ctx,
        "env": environment.write_snapshot([os.fsdecode(a) for a in command], ws.objects),
        "env_vars": secrets.redact_env(env_bytes),
        "session": session_ref,
        # A new step's number is decided when it is appended (by the
        # tracer, under the ref lock); a re-run knows it up front.
        "step": step,
        "params": params,
    }
    project_prefixes, project_globs = project_patterns(ws.config, ws.root)
    from roar.log import debug

    debug("tracer %s in %s, session %s, step %s", tracer_path, ws.root, session_ref, step)
    started = time.monotonic()
    result = tracer.trace(
        [os.fsdecode(a) for a in command],
        store=ws.dir,
        context=encoding.encode(context),
        job_type=step_kind,
        ignore_prefixes=ignore_prefixes(ws.config, ws.root) + project_prefixes,
        ignore_globs=project_globs,
        env=run_env,
        cwd=cwd,
        tracer=tracer_path,
        session=(session_ref, step, supersedes),
        also=also,
    )
    elapsed = time.monotonic() - started
    debug("tracer exit %s after %.3fs, job %s", result.exit_code, elapsed, result.job)
    if result.job is None:
        # The tracer already said why (command not found, not executable,
        # bad setup); anything else means the run was not recorded.
        if result.exit_code not in (2, 126, 127):
            warn("the tracer recorded no job for this run")
        return result.exit_code
    number = result.report.get("step")
    if number is None:  # a tracer that does not append (ROAR_TRACER pointing at an older one)
        from roar import sessions

        number = sessions.append(
            ws, result.job, step_kind, step=step, supersedes=supersedes, ref=session_ref
        ).step
    system = {"name": run.name} if run.name is not None else {}
    if result.gpus_used:
        # The job object is sealed by the tracer before the run ends; what NVML saw
        # during it is kept as the job's system label (docs/roar-cli-compat.md, GPUs).
        system[GPUS_USED_LABEL] = ",".join(result.gpus_used)
    if system:
        from roar import labels

        labels.update(ws, result.job, system)
    if not (quiet or ws.config.get("output.quiet")):
        label = f"@B{number}" if step_kind == "build" else f"@{number}"
        _report(label, result.job, result.report, elapsed, verbose)
    return result.exit_code


def _persistent_env(ws) -> dict[str, str]:  # type: ignore[no-untyped-def]
    from roar.run_env import load_env

    return load_env(ws)


def _report(label: str, job: str, report: dict, elapsed: float, verbose: bool) -> None:  # type: ignore[type-arg]
    inputs, outputs = report.get("inputs", []), report.get("outputs", [])
    code = report.get("exit_code", 0)
    status = "ok" if code == 0 else f"exit {code}"
    if report.get("interrupted"):
        status = "interrupted"
    rerun = f"  (re-run of {label})" if report.get("supersedes") else ""
    lines = [
        f"roar: {label} job {job[:12]}  {status}  {elapsed:.2f}s  "
        f"read {len(inputs)}  wrote {len(outputs)}{rerun}"
    ]
    listed = [("in ", a) for a in inputs] + [("out", a) for a in outputs]
    if not verbose:  # outputs only, the first ten
        listed = [("out", a) for a in outputs[:10]]
    for role, art in listed:
        lines.append(f"  {role} {art['hash'][:12]}  {_path_text(art['path'])}")
    if not verbose and len(outputs) > 10:
        lines.append(f"  ... {len(outputs) - 10} more (roar show {label})")
    sys.stderr.write("\n".join(lines) + "\n")


def _path_text(path: object) -> str:
    if isinstance(path, dict):
        return os.fsdecode(bytes.fromhex(path.get("hex", "")))
    return str(path)
