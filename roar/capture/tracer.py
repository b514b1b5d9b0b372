"""Glue to the Rust tracer binary: find it, check it, run a command under it.

The tracer writes the job object itself; this side hands it the context
(an encoded CBOR map) and reads back the report file it leaves.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
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
    also: list[str] | tuple[str, ...] = (),
) -> TraceResult:
    """Run argv under the tracer with the caller's stdio; return its report.

    `session` = (ref, step, supersedes): the tracer appends the job to that
    session itself (a re-run passes the step it replaces and its job).
    `also`: digests recorded beside BLAKE3 (md5, sha256, sha512).
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
        for algorithm in also:
            cmd += ["--also-hash", algorithm]
        cmd += ["--", *argv]
        child = Forwarding(cmd, env=env, cwd=cwd)
        from roar.capture.gpu import UsageSampler

        sampler = UsageSampler(child.pid).start()  # a no-op without an NVIDIA driver
        exit_code = child.wait()
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


# Signals sent to roar that the command must get: the tracer forwards them
# on (docs/tracer.md, Signals). Job-control signals keep their default.
FORWARDED = (
    signal.SIGHUP,
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGTERM,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGALRM,
    signal.SIGWINCH,
)
# si_code of a signal the kernel generated, e.g. the terminal's Ctrl-C.
SI_KERNEL = 0x80


class Forwarding:
    """cmd started as the caller's command would start: every descriptor, the
    signal mask and the process group as we have them. Until `wait` returns,
    a forwarded signal sent to this process alone reaches cmd once; one the
    terminal generated (si_code SI_KERNEL) already reached cmd's whole
    foreground process group, so it is not sent again. Signals this process
    ignores (nohup) stay ignored for cmd and are not forwarded.

    `pid` is cmd's; `wait()` returns its exit status (128+N if killed by
    signal N). Raises OSError if cmd cannot be started.
    """

    def __init__(
        self, cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> None:
        handled = {s for s in FORWARDED if signal.getsignal(s) is not signal.SIG_IGN}
        self._waited = handled | {signal.SIGCHLD}
        self._mask = signal.pthread_sigmask(signal.SIG_BLOCK, self._waited)
        try:
            self.pid = _spawn(cmd, env=env, cwd=cwd, mask=self._mask)
        except BaseException:
            signal.pthread_sigmask(signal.SIG_SETMASK, self._mask)
            raise

    def wait(self) -> int:
        try:
            status = _wait_forwarding(self.pid, self._waited)
        finally:
            # A signal that came after cmd ended has nobody left to reach.
            while signal.sigtimedwait(self._waited, 0) is not None:
                pass
            signal.pthread_sigmask(signal.SIG_SETMASK, self._mask)
        return 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _spawn(
    cmd: list[str], *, env: dict[str, str] | None, cwd: Path | None, mask: set[signal.Signals]
) -> int:
    # posix_spawn, not subprocess: no descriptor is closed (close_fds would
    # take away the caller's fd 3, a process substitution or a make
    # jobserver), the caller's signal mask is restored in the child, and
    # Python's SIG_IGN of SIGPIPE/SIGXFSZ is undone as subprocess does.
    previous = os.getcwd() if cwd is not None else None
    if cwd is not None:
        os.chdir(cwd)
    try:
        return os.posix_spawn(
            cmd[0],
            cmd,
            os.environ if env is None else env,
            setsigmask=mask,
            setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
        )
    finally:
        if previous is not None:
            os.chdir(previous)


def _wait_forwarding(pid: int, waited: set[signal.Signals]) -> int:
    """The wait status of pid, forwarding to it what reaches us meanwhile."""
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        info = signal.sigwaitinfo(waited)
        if info.si_signo == signal.SIGCHLD:
            continue
        if info.si_code == SI_KERNEL and os.getpgid(pid) == os.getpgrp():
            continue  # the terminal already sent it to cmd's process group
        try:
            os.kill(pid, info.si_signo)
        except ProcessLookupError:
            pass
