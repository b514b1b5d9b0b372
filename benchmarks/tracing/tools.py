"""The tools compared: how each wraps a command, and what it needs first.

Each tool runs in a working directory of its own (its store, trace
directory and outputs live there). Peers are used as a user would use
them, from their own venvs under `.bench-venvs/` (setup_peers.sh), and left
out of the table when not installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
PEERS = REPO / ".bench-venvs"
TRACER = REPO / "roar" / "roar-tracer"
QUIET_ENV = {"DO_NOT_TRACK": "1"}


@dataclass(frozen=True)
class Tool:
    name: str
    wrap: Callable[[Path, tuple[str, ...]], list[str]]
    setup: Callable[[Path], None] = lambda cwd: None
    # Paths (relative to the tool's directory) removed before a run of a
    # cold-cache workload; None: the tool has no hash cache, skip that row.
    cache_files: tuple[str, ...] | None = None
    env: dict[str, str] = field(default_factory=dict)
    slow: bool = False


def _roar_init(roar: Path) -> Callable[[Path], None]:
    def setup(cwd: Path) -> None:
        subprocess.run(
            [str(roar), "init"],
            cwd=cwd,
            check=True,
            capture_output=True,
            env={**os.environ, **QUIET_ENV},
        )

    return setup


def _tracer_argv(
    cwd: Path, argv: tuple[str, ...], tracer: Path = TRACER, options: tuple[str, ...] = ()
) -> list[str]:
    # The prefixes and globs `roar run` passes (asked of the front end).
    import json

    from roar.pathjson import from_json

    out = subprocess.run(
        [str(TRACER), "filters", "--", *argv], cwd=cwd, check=True, capture_output=True
    )
    filters = json.loads(out.stdout)
    store = cwd / ".roar"
    cmd = [str(tracer), "run", "--store", str(store), "--report", str(cwd / "report.json")]
    for prefix in filters["ignore_prefixes"]:
        cmd += ["--ignore-prefix", os.fsdecode(from_json(prefix))]
    for pattern in filters["ignore_globs"]:
        cmd += ["--ignore-glob", pattern]
    return [*cmd, *options, "--", *argv]


def available() -> tuple[list[Tool], list[str]]:
    """The tools installed here, and a note for each one that is not."""
    tools = [Tool("untraced", lambda cwd, argv: list(argv))]
    missing: list[str] = []
    roar = VENV_BIN / "roar"
    tools.append(
        Tool(
            "roar run",
            lambda cwd, argv: [str(roar), "run", "-q", "--", *argv],
            setup=_roar_init(roar),
            cache_files=(".roar/cache/hashes",),
        )
    )
    tools.append(
        Tool(
            "roar-tracer",
            _tracer_argv,
            setup=_roar_init(roar),
            cache_files=(".roar/cache/hashes",),
        )
    )
    # The fallback mechanism, forced, on the same binary.
    tools.append(
        Tool(
            "roar-tracer ptrace",
            lambda cwd, argv: _tracer_argv(cwd, argv, options=("--mechanism", "ptrace")),
            setup=_roar_init(roar),
            cache_files=(".roar/cache/hashes",),
        )
    )
    # Another build to compare with (e.g. the last release's), side by side.
    baseline = os.environ.get("ROAR_BENCH_BASELINE_TRACER")
    if baseline:
        tools.append(
            Tool(
                "roar-tracer baseline",
                lambda cwd, argv: _tracer_argv(cwd, argv, tracer=Path(baseline)),
                setup=_roar_init(roar),
                cache_files=(".roar/cache/hashes",),
            )
        )
    strace = shutil.which("strace")
    if strace:
        tools.append(Tool("strace -f", lambda cwd, argv: [strace, "-f", "-o", "/dev/null", *argv]))
        tools.append(
            Tool(
                "strace seccomp",
                lambda cwd, argv: [
                    strace,
                    "-f",
                    "--seccomp-bpf",
                    "-e",
                    "trace=openat,execve",
                    "-o",
                    "/dev/null",
                    *argv,
                ],  # fmt: skip
            )
        )
    else:
        missing.append("strace (apt-get install strace)")
    peer_roar = PEERS / "roar-cli" / "bin" / "roar"
    if peer_roar.exists():
        for backend in ("ebpf", "preload", "ptrace"):
            tools.append(
                Tool(
                    f"roar-cli {backend}",
                    lambda cwd, argv, b=backend: [
                        str(peer_roar),
                        "run",
                        "-q",
                        "--tracer",
                        b,
                        "--no-tracer-fallback",
                        *argv,
                    ],  # fmt: skip
                    setup=_roar_init(peer_roar),
                    env=QUIET_ENV,
                    slow=True,
                )
            )
    else:
        missing.append("roar-cli (benchmarks/tracing/setup_peers.sh)")
    reprozip = PEERS / "reprozip" / "bin" / "reprozip"
    if reprozip.exists():
        tools.append(
            Tool(
                "reprozip",
                lambda cwd, argv: [
                    str(reprozip),
                    "trace",
                    "--overwrite",
                    "-d",
                    str(cwd / "trace"),
                    *argv,
                ],  # fmt: skip
                slow=True,
            )
        )
    else:
        missing.append("reprozip (benchmarks/tracing/setup_peers.sh)")
    return tools, missing
