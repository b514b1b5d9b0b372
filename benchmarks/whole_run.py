"""What a user pays for `roar run`, whole, against what they would use instead.

    .venv/bin/python -m benchmarks.whole_run [--rounds N] [--sizes 5,2000,...]

Three tables, each from interleaved rounds (the order rotates every round,
so the machine's noise falls on every tool alike), medians:

1. The TARGETS.md workloads (trivial, many, big, procs) run as a user runs
   them: `roar run -q CMD` from inside a git repository that tracks the
   workloads' data files, beside the untraced command, `strace -f`,
   `strace --seccomp-bpf -e trace=%file,%process` (the cost floor: it
   records less and hashes nothing), `roar-tracer` alone with the filters
   `roar run` passes (no context, no session step: what the front end adds
   is the difference) and, when installed
   (benchmarks/tracing/setup_peers.sh), roar-cli 0.4.7 and reprozip.
2. `roar run -q true` in repositories of 5, 2,000, 20,000 and 100,000
   tracked files (committed and packed, as a clone is), beside
   `git status --porcelain` there, and `roar run -q sleep 0.3` beside
   `sleep 0.3`: for a command that runs longer than the git check, what
   the repository's size adds.
3. `roar run -q python -c pass` in a virtualenv holding a few hundred
   installed distributions, with the env snapshot cached (every run but
   the first after a change) and with its cache emptied before each run.

Data lives under ~/.roar-bench (outside /tmp, which roar filters); the
repositories of table 2 are kept there between runs (`repos-N/`).
Markdown on stdout, progress on stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.tracing.compare import Bench, Samples, log, timed
from benchmarks.tracing.tools import QUIET_ENV, VENV_BIN, Tool, available
from benchmarks.tracing.workloads import _write_small_files, system_python, workloads

WORKLOADS = ("trivial", "many", "big", "procs")
TARGETS = {"trivial": "+30 ms", "many": "1.5x", "big": "1.1x", "procs": "2x"}
STRACE_SECCOMP = "strace --seccomp-bpf"
PEERS = ("untraced", "roar run", "roar-tracer", "strace -f", "roar-cli preload", "reprozip")
GIT = ["git", "-c", "user.email=bench@roar", "-c", "user.name=bench", "-c", "gc.auto=0"]
ROAR = VENV_BIN / "roar"


def git(cwd: Path, *args: str) -> None:
    subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True)


def roar_init(cwd: Path) -> None:
    subprocess.run([str(ROAR), "init", "-n"], cwd=cwd, check=True, capture_output=True)


def roar_cli_preload(tool: Tool) -> Tool:
    """roar-cli set up as its users are told to here: its default eBPF tracer
    records nothing on this kernel, so the workspace is switched to preload."""
    peer = Path(tool.wrap(Path("."), ())[0])

    def setup(cwd: Path) -> None:
        tool.setup(cwd)
        subprocess.run(
            [str(peer), "tracer", "use", "preload"], cwd=cwd, check=True, capture_output=True
        )

    return dataclasses.replace(tool, setup=setup)


def tools() -> tuple[list[Tool], list[str]]:
    found, missing = available()
    chosen = [
        roar_cli_preload(t) if t.name == "roar-cli preload" else t for t in found if t.name in PEERS
    ]
    strace = shutil.which("strace")
    if strace:
        trap = ["-e", "trace=%file,%process"]
        chosen.insert(
            3,
            Tool(
                STRACE_SECCOMP,
                lambda cwd, argv: [strace, "-f", "--seccomp-bpf", *trap, "-o", "/dev/null", *argv],
            ),
        )
    return chosen, [m for m in missing if "reprozip" in m or "roar-cli" in m or "strace" in m]


# -- table 1: the workloads, whole ------------------------------------------


def workload_repo(root: Path) -> dict[str, Path]:
    """A git repository tracking the workloads' data (2,000 + 200 files);
    every tool's outputs and stores are ignored, so the tree stays clean."""
    sets = {"many": root / "data" / "many", "procs": root / "data" / "procs"}
    _write_small_files(sets["many"], 2000)
    _write_small_files(sets["procs"], 200)
    (root / ".gitignore").write_text("run/\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "workload data")
    return sets


def workload_table(results: dict[str, dict[str, Samples]], names: list[str], wls: list) -> str:  # type: ignore[type-arg]
    head = ["workload", "untraced", *[n for n in names if n != "untraced"], "target (roar run)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for wl in wls:
        got = results[wl.name]
        base = got["untraced"].median
        row = [f"{wl.name}: {wl.what}", f"{base * 1000:.0f} ms"]
        for name in head[2:-1]:
            s = got.get(name)
            if s is None or s.error or not s.times:
                row.append(f"fails ({s.error})" if s and s.error else "—")
                continue
            cell = f"{s.median / base:.2f}x"
            if wl.name == "trivial":
                cell += f" ({(s.median - base) * 1000:+.0f} ms)"
            row.append(cell)
        row.append(TARGETS[wl.name])
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


# -- table 2: repository size -------------------------------------------------


def sized_repo(base: Path, files: int) -> Path:
    """A committed, packed repository of `files` tracked files (kept for reuse)."""
    root = base / f"repos-{files}"
    if (root / ".roar" / "HEAD").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    log(f"creating a repository of {files:,} files in {root}")
    for i in range(files):
        d = root / f"d{i // 1000:03}"
        if i % 1000 == 0:
            d.mkdir()
        (d / f"f{i:06}.txt").write_text(f"line {i}\n" * (1 + i % 20))
    (root / ".gitignore").write_text(".roar/\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "files")
    git(root, "gc", "-q")
    roar_init(root)
    return root


def interleaved(cmds: dict[str, list[str]], cwd: Path, rounds: int) -> dict[str, float]:
    """Median wall time (s) of each command, rounds interleaved, one warm-up."""
    env = {**os.environ, **QUIET_ENV}
    times: dict[str, list[float]] = {k: [] for k in cmds}
    names = list(cmds)
    for r in range(rounds + 1):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            elapsed, err = timed(cmds[name], cwd, env)
            if err:
                raise SystemExit(f"{name} failed in {cwd}: {err}")
            if r:
                times[name].append(elapsed)
    return {k: statistics.median(v) for k, v in times.items()}


def size_table(base: Path, sizes: list[int], rounds: int) -> str:
    lines = [
        "| tracked files | `git status --porcelain` | `roar run -q true` | `true` untraced "
        "| `roar run -q sleep 0.3` minus `sleep 0.3` |",
        "|---|---|---|---|---|",
    ]
    for files in sizes:
        root = sized_repo(base, files)
        log(f"repository of {files:,} files")
        m = interleaved(
            {
                "git": ["git", "status", "--porcelain"],
                "roar": [str(ROAR), "run", "-q", "true"],
                "true": ["true"],
                "roar sleep": [str(ROAR), "run", "-q", "sleep", "0.3"],
                "sleep": ["sleep", "0.3"],
            },
            root,
            rounds,
        )
        lines.append(
            f"| {files:,} | {m['git'] * 1000:.0f} ms | {m['roar'] * 1000:.0f} ms "
            f"| {m['true'] * 1000:.1f} ms | {(m['roar sleep'] - m['sleep']) * 1000:+.0f} ms |"
        )
    return "\n".join(lines)


# -- table 3: an environment of many packages -------------------------------


def many_packages_venv(base: Path, count: int) -> Path:
    """A virtualenv (of the system Python) whose site-packages holds `count`
    installed distributions' metadata: what roar's snapshot reads of them."""
    venv = base / f"venv-{count}"
    python = venv / "bin" / "python"
    if python.exists():
        return python
    subprocess.run([system_python(), "-m", "venv", "--without-pip", str(venv)], check=True)
    out = subprocess.run(
        [str(python), "-c", "import site; print(site.getsitepackages()[0])"],
        check=True,
        capture_output=True,
        text=True,
    )
    site = Path(out.stdout.strip())
    for i in range(count):
        info = site / f"package_{i:04}-1.{i % 7}.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Name: package-{i:04}\nVersion: 1.{i % 7}.0\n")
    return python


def packages_table(base: Path, count: int, rounds: int) -> str:
    python = many_packages_venv(base, count)
    cwd = base / "run-packages"
    shutil.rmtree(cwd, ignore_errors=True)
    cwd.mkdir()
    roar_init(cwd)
    cache = cwd / ".roar" / "cache" / "env-snapshots.json"
    env = {**os.environ, **QUIET_ENV}
    times: dict[str, list[float]] = {"untraced": [], "cached": [], "cold": []}
    run = [str(ROAR), "run", "-q", str(python), "-c", "pass"]
    names = list(times)
    for r in range(rounds + 1):
        for name in names[r % 3 :] + names[: r % 3]:
            if name == "cold":
                cache.unlink(missing_ok=True)
            cmd = [str(python), "-c", "pass"] if name == "untraced" else run
            elapsed, err = timed(cmd, cwd, env)
            if err:
                raise SystemExit(f"{name} failed: {err}")
            if r:
                times[name].append(elapsed)
    m = {k: statistics.median(v) * 1000 for k, v in times.items()}
    return (
        "| environment | `python -c pass` | `roar run -q python -c pass`, snapshot cached "
        "| the same, snapshot cache emptied before each run |\n|---|---|---|---|\n"
        f"| venv with {count} installed distributions | {m['untraced']:.0f} ms "
        f"| {m['cached']:.0f} ms ({m['cached'] - m['untraced']:+.0f} ms) "
        f"| {m['cold']:.0f} ms ({m['cold'] - m['untraced']:+.0f} ms) |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=11, help="timed rounds per row")
    parser.add_argument("--budget", type=float, default=30.0, help="s per slow peer per workload")
    parser.add_argument("--sizes", default="5,2000,20000,100000", help="tracked files per repo")
    parser.add_argument("--packages", type=int, default=300, help="distributions in the venv")
    parser.add_argument("--tables", default="workloads,sizes,packages")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("ROAR_BENCH_DIR", "~/.roar-bench"))
    )
    args = parser.parse_args(argv)
    if not os.access(ROAR, os.X_OK):
        sys.exit(f"{ROAR} is missing: run `make install` first")
    base = args.data_dir.expanduser()
    base.mkdir(parents=True, exist_ok=True)
    wanted = args.tables.split(",")
    out = []
    cmd = "python -m benchmarks.whole_run" + "".join(
        f" {shlex.quote(a)}" for a in (argv if argv is not None else sys.argv[1:])
    )
    out.append(
        f"`{cmd}`, {datetime.date.today().isoformat()}, {os.cpu_count()} CPUs, "
        f"{args.rounds} interleaved rounds, medians; workload Python: {system_python()}\n"
    )
    if "workloads" in wanted:
        chosen, missing = tools()
        root = Path(tempfile.mkdtemp(prefix="whole-run-", dir=base))
        try:
            log(f"workload data in a git repository at {root}")
            sets = workload_repo(root)
            wls = [w for w in workloads({**sets, "gib": sets["many"]}, system_python())]
            wls = [w for w in wls if w.name in args.workloads.split(",")]
            bench = Bench(root, chosen, args.rounds, args.budget)
            # roar-cli's init adds .roar/ to .gitignore, and it refuses a dirty tree.
            git(root, "commit", "-qam", "tools set up", "--allow-empty")
            results = {}
            for wl in wls:
                log(f"{wl.name}: {len(chosen)} tools")
                results[wl.name] = bench.measure(wl)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        out.append(workload_table(results, [t.name for t in chosen], wls))
        if missing:
            out.append(f"\nNot installed, left out: {', '.join(missing)}.")
    if "sizes" in wanted:
        sizes = [int(s) for s in args.sizes.split(",") if s]
        out.append("\n" + size_table(base, sizes, args.rounds))
    if "packages" in wanted:
        out.append("\n" + packages_table(base, args.packages, args.rounds))
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
