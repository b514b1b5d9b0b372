"""Start-up and object store throughput.

`roar --version` is timed as a whole process beside `python -c pass` (the
floor every Python CLI pays), so the figure reads as roar's own cost.
Object write/read throughput is objects per second on the real store.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from roar.objects.job import ArtifactRef, Job
from roar.workspace import Workspace

ROAR = [sys.executable, "-m", "roar"]


def test_python_floor(benchmark) -> None:  # type: ignore[no-untyped-def]
    benchmark(subprocess.run, [sys.executable, "-c", "pass"], check=True)


def test_roar_version(benchmark) -> None:  # type: ignore[no-untyped-def]
    roar = Path(sys.executable).with_name("roar")
    benchmark(subprocess.run, [str(roar), "--version"], check=True, capture_output=True)


def test_roar_help(benchmark) -> None:  # type: ignore[no-untyped-def]
    benchmark(subprocess.run, [*ROAR, "--help"], check=True, capture_output=True)


def _job(i: int) -> Job:
    inputs = tuple(
        ArtifactRef(f"/data/in-{i}-{k}.csv".encode(), f"{k:064x}", 1000 + k) for k in range(5)
    )
    return Job(
        type="run",
        argv=(b"python", b"train.py", str(i).encode()),
        cwd=b"/work",
        started_ns=i,
        ended_ns=i + 1,
        exit_code=0,
        inputs=inputs,
        outputs=(ArtifactRef(b"/data/out.pt", f"{i:064x}", 10),),
    )


@pytest.mark.parametrize("fsync", [True, False], ids=["fsync", "nofsync"])
def test_object_write_1000(benchmark, tmp_path: Path, fsync: bool) -> None:  # type: ignore[no-untyped-def]
    jobs = [_job(i) for i in range(1000)]
    counter = iter(range(10**6))

    def write_all() -> None:
        ws, _ = Workspace.create(tmp_path / str(next(counter)))
        store = ws.objects
        store.fsync = fsync
        for job in jobs:
            store.write(job)

    benchmark.pedantic(write_all, rounds=5)
    benchmark.extra_info["objects_per_round"] = 1000


def test_object_read_1000(benchmark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws, _ = Workspace.create(tmp_path)
    ids = [ws.objects.write(_job(i)) for i in range(1000)]

    def read_all() -> None:
        for oid in ids:
            ws.objects.read(oid)

    benchmark.pedantic(read_all, rounds=5)
    benchmark.extra_info["objects_per_round"] = 1000
