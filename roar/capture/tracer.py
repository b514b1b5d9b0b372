"""Glue to the Rust tracer binary: find it, check it, run a command under it.

The tracer writes the job object itself; this side hands it the context
(an encoded CBOR map) and reads back the report file it leaves.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from roar.errors import TracerUnavailable

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


class Preflight(NamedTuple):
    ready: bool
    details: dict[str, Any]

    @property
    def problems(self) -> list[str]:
        return list(self.details.get("problems", []))


def preflight(tracer: Path | None = None) -> Preflight:
    tracer = tracer or find_tracer()
    try:
        proc = subprocess.run(
            [str(tracer), "--preflight", "--json"], capture_output=True, text=True, timeout=30
        )
        details = json.loads(proc.stdout)
    except (OSError, ValueError, subprocess.TimeoutExpired) as e:
        return Preflight(False, {"problems": [f"{tracer} --preflight failed: {e}"]})
    return Preflight(bool(details.get("ready")) and proc.returncode == 0, details)


class TraceResult(NamedTuple):
    exit_code: int
    job: str | None
    report: dict[str, Any]
    gpus_used: list[str] = []  # UUIDs of the GPUs the job's processes held a context on


def trace(
    argv: list[str],
    *,
    store: Path,
    context: bytes,
    job_type: str,
    ignore_prefixes: list[str],
    ignore_globs: tuple[str, ...] | list[str] = (),
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    tracer: Path | None = None,
    session: tuple[str, int | None, str | None] | None = None,
) -> TraceResult:
    """Run argv under the tracer with the caller's stdio; return its report.

    `session` = (ref, step, supersedes): the tracer appends the job to that
    session itself (a re-run passes the step it replaces and its job).
    """
    tracer = tracer or find_tracer()
    with _scratch_dir(store) as tmp:
        context_path = Path(tmp) / "context.cbor"
        context_path.write_bytes(context)
        report_path = Path(tmp) / "report.json"
        cmd = [
            str(tracer),
            "run",
            "--store",
            str(store),
            "--context",
            str(context_path),
            "--type",
            job_type,
            "--report",
            str(report_path),
        ]
        for prefix in ignore_prefixes:
            cmd += ["--ignore-prefix", prefix]
        for pattern in ignore_globs:
            cmd += ["--ignore-glob", pattern]
        if session is not None:
            ref, step, supersedes = session
            cmd += ["--session", ref]
            if step is not None and supersedes is not None:
                cmd += ["--step", str(step), "--supersedes", supersedes]
        cmd += ["--", *argv]
        proc = subprocess.Popen(cmd, env=env, cwd=cwd)
        from roar.capture.gpu import UsageSampler

        sampler = UsageSampler(proc.pid).start()  # a no-op without an NVIDIA driver
        exit_code = _wait(proc)
        gpus_used = sampler.stop()
        try:
            report = json.loads(report_path.read_text())
        except (FileNotFoundError, ValueError):
            report = {}
    return TraceResult(exit_code, report.get("job"), report, gpus_used)


@contextmanager
def _scratch_dir(store: Path) -> Iterator[Path]:
    """A private directory under .roar/tmp for one run's context and report."""
    path = store / "tmp" / f"run-{os.getpid()}-{os.urandom(4).hex()}"
    path.mkdir(parents=True)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _wait(proc: subprocess.Popen) -> int:  # type: ignore[type-arg]
    # Ctrl-C reaches the whole foreground process group, the traced command
    # included, so roar ignores it and waits; SIGTERM and SIGHUP sent to
    # roar alone are passed to the tracer, which forwards them.
    import signal

    def forward(signum: int, _frame: object) -> None:
        proc.send_signal(signum)

    previous = {
        signal.SIGINT: signal.signal(signal.SIGINT, signal.SIG_IGN),
        signal.SIGQUIT: signal.signal(signal.SIGQUIT, signal.SIG_IGN),
        signal.SIGTERM: signal.signal(signal.SIGTERM, forward),
        signal.SIGHUP: signal.signal(signal.SIGHUP, forward),
    }
    try:
        code = proc.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 128 - code if code < 0 else code
