"""One table of tracing overhead: wall time traced / untraced, medians.

    .venv/bin/python -m benchmarks.tracing.compare [--rounds N] [--tools a,b]

Builds the TARGETS.md workloads in a scratch directory (default under
~/.roar-bench: outside /tmp and outside any git work tree, so neither roar's
/tmp filter nor roar-cli's clean-tree rule changes what is measured), then
for each workload runs every tool once to warm up and N rounds interleaved,
rotating the order each round (after `sync`, so no run pays for the one
before it writing back), so the machine's noise falls on all tools
alike. Slow peers stop after `--budget` seconds (at least 3 rounds).
Then: BLAKE3 throughput of the tracer's hashing against b3sum with the same
thread count, and the cost of a warm hash cache per 1,000 unchanged inputs.
Prints markdown on stdout; progress on stderr.

`roar-tracer ptrace` is the same binary with the fallback mechanism forced;
ROAR_BENCH_BASELINE_TRACER=/path/to/roar-tracer adds another build (say the
previous commit's) to the same interleaved run as `roar-tracer baseline`.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.tracing.tools import QUIET_ENV, TRACER, VENV_BIN, Tool, available
from benchmarks.tracing.workloads import (
    READ_THEN_STAMP,
    Workload,
    generate,
    system_python,
    workloads,
)

TARGETS = {
    "trivial": "+60 ms",
    "many": "1.5x",
    "many cold-cache": "1.5x",
    "big": "1.25x",
    "procs": "2x",
}
MIN_ROUNDS = 3


@dataclass
class Samples:
    times: list[float] = field(default_factory=list)
    error: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    """Wall time of one run; an error text if it failed."""
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        return elapsed, f"exit {proc.returncode}: {tail[0][:80]}"
    return elapsed, ""


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name)


class Bench:
    def __init__(self, root: Path, tools: list[Tool], rounds: int, budget: float):
        self.root = root
        self.tools = tools
        self.rounds = rounds
        self.budget = budget
        self.dirs: dict[str, Path] = {}
        for tool in tools:
            cwd = root / "run" / slug(tool.name)
            cwd.mkdir(parents=True)
            tool.setup(cwd)
            self.dirs[tool.name] = cwd

    def env(self, tool: Tool) -> dict[str, str]:
        return {**os.environ, **tool.env}

    def run_once(self, tool: Tool, wl: Workload) -> tuple[float, str]:
        cwd = self.dirs[tool.name]
        if wl.cold_cache:
            for rel in tool.cache_files or ():
                (cwd / rel).unlink(missing_ok=True)
        # Outputs are written fresh: rewriting a file in place (O_TRUNC)
        # waits on the writeback of its previous content, which measured
        # 5x slower than a fresh write here and varied with the disk's load.
        shutil.rmtree(cwd / "out", ignore_errors=True)
        # The previous run's dirty pages are written back now, not during
        # this one: rotation keeps each tool after the same neighbour, so
        # one that leaves much to write (a trace database) would otherwise
        # always slow the same next tool.
        os.sync()
        return timed(tool.wrap(cwd, wl.argv), cwd, self.env(tool))

    def measure(self, wl: Workload) -> dict[str, Samples]:
        tools = [
            t for t in self.tools if not wl.cold_cache or t.cache_files or t.name == "untraced"
        ]
        samples = {t.name: Samples() for t in tools}
        for tool in tools:  # warm-up: page cache, hash cache, pyc files
            _, err = self.run_once(tool, wl)
            samples[tool.name].error = err
        for r in range(self.rounds):
            order = tools[r % len(tools) :] + tools[: r % len(tools)]
            for tool in order:
                s = samples[tool.name]
                if s.error or (len(s.times) >= MIN_ROUNDS and sum(s.times) > self.budget):
                    continue
                elapsed, err = self.run_once(tool, wl)
                s.error = err
                if not err:
                    s.times.append(elapsed)
            log(f"  {wl.name}: round {r + 1}/{self.rounds}")
        return samples


def ratio_cell(wl: Workload, s: Samples | None, base: Samples) -> str:
    if s is None:
        return "—"
    if s.error or not s.times:
        return f"fails ({s.error})" if s.error else "—"
    ratio = s.median / base.median
    cell = f"{ratio:.2f}x"
    if wl.name == "trivial":
        cell += f" (+{(s.median - base.median) * 1000:.0f} ms)"
    if wl.events:
        cell += f" ({(s.median - base.median) / wl.events * 1e6:.1f} µs/call)"
    return cell


def overhead_table(
    results: dict[str, dict[str, Samples]], wls: list[Workload], tools: list[Tool]
) -> str:
    traced = [t.name for t in tools if t.name != "untraced"]
    head = ["workload", "untraced", *traced, "target (roar run)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for wl in wls:
        got = results[wl.name]
        base = got["untraced"]
        row = [f"{wl.name}: {wl.what}", f"{base.median * 1000:.0f} ms"]
        row += [ratio_cell(wl, got.get(name), base) for name in traced]
        row.append(TARGETS.get(wl.name, ""))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def hashing_rows(hash_file: Path, rounds: int) -> list[str]:
    """BLAKE3 throughput, roar-tracer's hashing against b3sum, same threads."""
    b3sum = shutil.which("b3sum")
    if not b3sum:
        return ["| BLAKE3 throughput | | b3sum not installed (setup_peers.sh) | |"]
    size = hash_file.stat().st_size
    rows = []
    cpus = os.cpu_count() or 1
    for threads in sorted({1, cpus}):
        cmds = {
            "tracer": [str(TRACER), "hash", "--num-threads", str(threads), str(hash_file)],
            "b3sum": [b3sum, "--num-threads", str(threads), str(hash_file)],
        }
        times: dict[str, list[float]] = {k: [] for k in cmds}
        for r in range(rounds + 1):
            for name in sorted(cmds, reverse=r % 2 == 1):
                elapsed, err = timed(cmds[name], hash_file.parent, dict(os.environ))
                if err:
                    return [f"| BLAKE3 throughput | {name} failed: {err} | | |"]
                if r:  # the first round warms the page cache
                    times[name].append(elapsed)
        ours, theirs = (statistics.median(times[k]) for k in ("tracer", "b3sum"))
        rows.append(
            f"| BLAKE3 of a {size >> 30} GiB file, {threads} thread{'s' * (threads > 1)} "
            f"| {size / ours / 1e9:.2f} GB/s | {size / theirs / 1e9:.2f} GB/s "
            f"| {theirs / ours:.2f}x of b3sum (target 0.9x) |"
        )
    return rows


def warm_cache_rows(root: Path, sets: dict[str, Path], python: str, rounds: int) -> list[str]:
    """Time from the command's last action to the tracer's exit, with 1,000
    unchanged inputs against none: what the inputs cost after the run."""
    from benchmarks.tracing.tools import _roar_init, _tracer_argv

    roar = VENV_BIN / "roar"
    cwd = root / "run" / "warm-cache"
    cwd.mkdir(parents=True)
    _roar_init(roar)(cwd)
    env = {**os.environ, **QUIET_ENV}
    wrappers = {
        "roar-tracer": lambda argv: _tracer_argv(cwd, argv),
        "roar run": lambda argv: [str(roar), "run", "-q", "--", *argv],
    }
    rows = []
    for name, wrap in wrappers.items():
        tails: dict[str, list[float]] = {"inputs-0": [], "inputs-1000": []}
        for r in range(rounds + 2):
            for key in sorted(tails, reverse=r % 2 == 1):
                argv = (python, "-c", READ_THEN_STAMP, str(sets[key]))
                proc = subprocess.run(wrap(argv), cwd=cwd, env=env, capture_output=True)
                done = time.time_ns()
                if proc.returncode != 0:
                    return [f"| warm hash cache | {name} failed: {proc.stderr[-200:]!r} | | |"]
                if r >= 2:  # two warm-ups: the second runs on a warm cache
                    tails[key].append((done - int(proc.stdout.split()[-1])) / 1e6)
        none, thousand = (statistics.median(tails[k]) for k in ("inputs-0", "inputs-1000"))
        rows.append(
            f"| warm hash cache, {name}: cost per 1,000 unchanged inputs after the command "
            f"exits | {thousand - none:.1f} ms | ({thousand:.1f} ms with them, {none:.1f} ms "
            f"without) | target < 5 ms |"
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=11, help="timed rounds per workload")
    parser.add_argument(
        "--budget", type=float, default=30.0, help="seconds per tool per workload, after 3 rounds"
    )
    parser.add_argument("--tools", default="", help="comma-separated tool names (default: all)")
    parser.add_argument("--workloads", default="", help="comma-separated workload names")
    parser.add_argument("--gib-files", type=int, default=1024, help="files of 1 MiB in rerun set")
    parser.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("ROAR_BENCH_DIR", "~/.roar-bench"))
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)

    if not os.access(TRACER, os.X_OK):
        sys.exit(f"{TRACER} is missing: run `make install` first")
    tools, missing = available()
    if args.tools:
        wanted = {"untraced", *args.tools.split(",")}
        tools = [t for t in tools if t.name in wanted]
    base = args.data_dir.expanduser()
    base.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="tracing-", dir=base))
    python = system_python()
    try:
        log(f"generating data in {root}")
        sets = generate(root / "data", gib_files=args.gib_files)
        wls = workloads(sets, python)
        if args.workloads:
            wls = [w for w in wls if w.name in args.workloads.split(",")]
        bench = Bench(root, tools, args.rounds, args.budget)
        results = {}
        for wl in wls:
            log(f"{wl.name}: {len(tools)} tools")
            results[wl.name] = bench.measure(wl)
        log("hashing and warm cache")
        extra = hashing_rows(sets["hash-file"], max(3, args.rounds // 2))
        extra += warm_cache_rows(root, sets, python, args.rounds)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)

    cmd = "python -m benchmarks.tracing.compare" + "".join(
        f" {shlex.quote(a)}" for a in (argv if argv is not None else sys.argv[1:])
    )
    print(f"`{cmd}`, {datetime.date.today().isoformat()}, {os.cpu_count()} CPUs, "
          f"{args.rounds} interleaved rounds, median traced / median untraced; "
          f"workload Python: {python}\n")  # fmt: skip
    print(overhead_table(results, wls, tools))
    print()
    print("| measurement | roar | reference | note |\n|---|---|---|---|")
    print("\n".join(extra))
    if missing:
        print(f"\nNot installed, left out: {', '.join(missing)}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
