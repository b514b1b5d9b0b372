"""What `roar run --hash sha256` (and md5) costs beside BLAKE3 alone, on one 1 GiB file.

    .venv/bin/python -m benchmarks.digests [--rounds N] [--size-mib M] [--dir D]

Writes a file of random bytes (default 1 GiB) in a roar workspace under D
(default ~/.roar-bench/digests: outside /tmp, which roar filters), then runs
each command once to warm up and N rounds interleaved, the order rotated each
round. Before every run the file is touched, so its identity changes and no
run is answered by the hash cache: every traced run reads and hashes the whole
file (from the page cache, as for a file just written). Prints a markdown
table on stdout: medians, and ratios to the untraced `cat` and `python` reads
of the same file; peers are what a user would run instead to get a digest
(`sha256sum`, `md5sum`) and roar-cli 0.4.7 with its preload tracer when
`.bench-venvs/` has it. Progress on stderr.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROAR = REPO / ".venv" / "bin" / "roar"
PEERS = REPO / ".bench-venvs"
QUIET = {**os.environ, "DO_NOT_TRACK": "1"}
READ_PY = "import sys\nf = open(sys.argv[1], 'rb', buffering=0)\nwhile f.read(1 << 20): pass\n"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def commands(big: str, peer: Path | None) -> dict[str, tuple[str, list[str]]]:
    """name -> (baseline name, argv). Every command reads the whole file once."""
    py = sys.executable
    roar = str(ROAR)
    cmds = {
        "cat (untraced)": ("cat (untraced)", ["cat", big]),
        "python read (untraced)": ("python read (untraced)", [py, "-c", READ_PY, big]),
        "roar run cat (BLAKE3)": ("cat (untraced)", [roar, "run", "-q", "cat", big]),
        "roar run --hash sha256 cat": (
            "cat (untraced)",
            [roar, "run", "-q", "--hash", "sha256", "cat", big],
        ),
        "roar run --hash md5 cat": (
            "cat (untraced)",
            [roar, "run", "-q", "--hash", "md5", "cat", big],
        ),
        "roar run --hash sha256 --hash md5 cat": (
            "cat (untraced)",
            [roar, "run", "-q", "--hash", "sha256", "--hash", "md5", "cat", big],
        ),
        "roar run python read (BLAKE3)": (
            "python read (untraced)",
            [roar, "run", "-q", py, "-c", READ_PY, big],
        ),
        "roar run --hash sha256 python read": (
            "python read (untraced)",
            [roar, "run", "-q", "--hash", "sha256", py, "-c", READ_PY, big],
        ),
        "sha256sum (peer)": ("cat (untraced)", ["sha256sum", big]),
        "md5sum (peer)": ("cat (untraced)", ["md5sum", big]),
    }
    if peer is not None:
        cmds["roar-cli 0.4.7 run --hash sha256 cat (preload)"] = (
            "cat (untraced)",
            [str(peer), "run", "-q", "--tracer", "preload", "--no-tracer-fallback",
             "--hash", "sha256", "cat", big],
        )  # fmt: skip
    return cmds


def timed(argv: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        argv, cwd=cwd, env=QUIET, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:4]} failed: {proc.stderr.decode(errors='replace')[-300:]}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--dir", type=Path, default=Path.home() / ".roar-bench" / "digests")
    args = ap.parse_args(argv)
    root = args.dir
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    subprocess.run([str(ROAR), "init"], cwd=root, check=True, capture_output=True, env=QUIET)
    big = root / "model.bin"
    log(f"writing {args.size_mib} MiB of random bytes to {big}")
    with open(big, "wb") as f:
        for _ in range(args.size_mib):
            f.write(os.urandom(1 << 20))
    peer = next((p for p in (PEERS / "roar-cli-0.4.7" / "bin" / "roar",
                             PEERS / "roar-cli" / "bin" / "roar") if p.exists()), None)  # fmt: skip
    if peer is not None:
        peer_dir = root / "roar-cli"
        peer_dir.mkdir()
        os.symlink(big, peer_dir / "model.bin")
        for step in (["init"], ["tracer", "use", "preload"]):
            subprocess.run([str(peer), *step], cwd=peer_dir, capture_output=True, env=QUIET)
    cmds = commands(str(big), peer)
    names = list(cmds)
    samples: dict[str, list[float]] = {n: [] for n in names}
    for rnd in range(args.rounds + 1):  # round 0 warms up
        order = names[rnd % len(names) :] + names[: rnd % len(names)]
        for name in order:
            os.utime(big)  # a new identity: no hash cache answers
            time.sleep(0.15)  # and old enough to be read as a settled file
            cwd = root / "roar-cli" if name.startswith("roar-cli") else root
            t = timed(cmds[name][1], cwd)
            if rnd:
                samples[name].append(t)
        log(f"round {rnd}/{args.rounds} done")
    med = {n: statistics.median(s) for n, s in samples.items()}
    print(f"{args.size_mib} MiB file, {args.rounds} rounds, {os.cpu_count()} CPUs\n")
    print("| command | median s | ratio to its untraced read | min s | max s |")
    print("|---|---|---|---|---|")
    for name in names:
        base = cmds[name][0]
        ratio = "1.00" if base == name else f"{med[name] / med[base]:.2f}x"
        s = samples[name]
        print(f"| {name} | {med[name]:.3f} | {ratio} | {min(s):.3f} | {max(s):.3f} |")
    blake = med["roar run cat (BLAKE3)"]
    for name in names:
        if name.startswith("roar run --hash") and name.endswith(" cat"):
            print(f"\n`{name}` / `roar run cat (BLAKE3)`: {med[name] / blake:.2f}x", end="")
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
