"""The workloads of TARGETS.md, each a command and the data it needs.

Data is generated once into a scratch directory; every tool then runs the
same command from a working directory of its own (outputs are written
relative to it), reading inputs by absolute path. Commands run a system
Python (`/usr/bin/python3`, outside any venv, as a user's script would).
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

MIB = 1 << 20


def system_python() -> str:
    for candidate in ("/usr/bin/python3", getattr(sys, "_base_executable", "")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("python3") or sys.executable


@dataclass(frozen=True)
class Workload:
    name: str
    what: str
    argv: tuple[str, ...]
    # True: roar's hash cache is emptied before every timed run.
    cold_cache: bool = False
    # Trapped calls the workload makes beyond the untraced run's: the table
    # then also gives the cost of one, (traced - untraced) / events.
    events: int = 0


MANY = """
import os, sys
src = sys.argv[1]
for name in sorted(os.listdir(src)):
    with open(os.path.join(src, name), 'rb') as f:
        f.read()
os.makedirs('out', exist_ok=True)
for i in range(200):
    with open(f'out/{i:03}.txt', 'wb') as f:
        f.write(b'%d\\n' % i * 50)
"""

BIG = """
import os
chunk = os.urandom(64 * 1024)
os.makedirs('out', exist_ok=True)
with open('out/big.bin', 'wb') as f:
    for _ in range(4096):
        f.write(chunk)
with open('out/big.bin', 'rb') as f:
    while f.read(64 * 1024):
        pass
"""

PROCS = 'for i in $(seq 1 200); do cat "$1/$i.txt" > /dev/null; done'

OPEN_COUNT = 20_000
# The cost of one trapped call: the same file opened and closed again and
# again (one hash-map hit in the tracer each time, nothing to hash).
OPENS = f"""
import os, sys
path = sys.argv[1]
for _ in range({OPEN_COUNT}):
    os.close(os.open(path, os.O_RDONLY))
"""

READ_ALL = """
import os, sys
src = sys.argv[1]
for name in sorted(os.listdir(src)):
    with open(os.path.join(src, name), 'rb') as f:
        while f.read(1 << 20):
            pass
"""

# Reads every file of a directory, then prints when it is done (ns since
# the epoch): whatever a tracer does after that is its cost per input.
READ_THEN_STAMP = """
import os, sys, time
src = sys.argv[1]
for name in sorted(os.listdir(src)):
    with open(os.path.join(src, name), 'rb') as f:
        f.read()
print(time.time_ns(), flush=True)
"""


def _write_small_files(directory: Path, count: int, *, name: str = "{}.txt") -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(1, count + 1):
        size = 200 + (i * 7919) % 3800
        (directory / name.format(i)).write_bytes(os.urandom(size))


def _write_random_files(directory: Path, count: int, size: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        with open(directory / f"{i:04}.bin", "wb") as f:
            for _ in range(size // MIB):
                f.write(os.urandom(MIB))


def generate(data: Path, *, gib_files: int = 1024) -> dict[str, Path]:
    """Creates every data set under `data`; returns them by name."""
    sets = {
        "many": data / "many",
        "procs": data / "procs",
        "gib": data / "gib",
        "inputs-0": data / "inputs-0",
        "inputs-1000": data / "inputs-1000",
        "hash-file": data / "hash" / "1gib.bin",
    }
    _write_small_files(sets["many"], 2000)
    _write_small_files(sets["procs"], 200)
    _write_random_files(sets["gib"], gib_files, MIB)
    sets["inputs-0"].mkdir(parents=True, exist_ok=True)
    _write_small_files(sets["inputs-1000"], 1000)
    _write_random_files(sets["hash-file"].parent, 1, 1024 * MIB)
    (sets["hash-file"].parent / "0000.bin").rename(sets["hash-file"])
    return sets


def workloads(sets: dict[str, Path], python: str) -> list[Workload]:
    gib = sum(p.stat().st_size for p in sets["gib"].iterdir()) / (1 << 30)
    return [
        Workload("trivial", "`python -c pass`", (python, "-c", "pass")),
        Workload(
            "many",
            "read 2,000 small files, write 200 (warm hash cache)",
            (python, "-c", MANY, str(sets["many"])),
        ),
        Workload(
            "many cold-cache",
            "the same, hash cache emptied before each run",
            (python, "-c", MANY, str(sets["many"])),
            cold_cache=True,
        ),
        Workload(
            "big",
            "write 256 MiB in 64 KiB chunks, read it back",
            (python, "-c", BIG),
        ),
        Workload(
            "procs",
            "`sh` loop of 200 `cat`s, each reading its own file",
            ("/bin/sh", "-c", PROCS, "sh", str(sets["procs"])),
        ),
        Workload(
            "opens",
            f"{OPEN_COUNT:,} opens of one file (cost per trapped call)",
            (python, "-c", OPENS, str(sets["many"] / "1.txt")),
            events=OPEN_COUNT,
        ),
        Workload(
            "rerun 1 GiB",
            f"re-read {len(list(sets['gib'].iterdir()))} unchanged files, {gib:.2g} GiB"
            " (warm hash cache)",
            (python, "-c", READ_ALL, str(sets["gib"])),
        ),
    ]
