"""Concurrent and interrupted `roar run`s never lose a job or damage the store."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def roar_env() -> dict[str, str]:
    env = {**os.environ, "NO_COLOR": "1"}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


@pytest.mark.parametrize("runs", [8, 16])
def test_concurrent_runs_all_land(roar_cli, roar_exe: str, tmp_path: Path, runs: int) -> None:  # type: ignore[no-untyped-def]
    roar_cli("init", "-n")
    for round_ in range(3):
        procs = [
            subprocess.Popen(
                [
                    roar_exe,
                    "run",
                    "-q",
                    "python",
                    "-c",
                    f"open('out-{round_}-{i}.txt','w').write('{i}')",
                ],
                cwd=tmp_path,
                env=roar_env(),
            )  # fmt: skip
            for i in range(runs)
        ]
        assert [p.wait(timeout=120) for p in procs] == [0] * runs
    log = json.loads(roar_cli("log", "--json").stdout)
    assert sorted(r["step"] for r in log) == sorted(f"@{n}" for n in range(1, 3 * runs + 1))
    assert len({r["job"] for r in log}) == 3 * runs
    written = {r["command"].split("'")[1] for r in log}
    assert written == {f"out-{r}-{i}.txt" for r in range(3) for i in range(runs)}
    fsck = roar_cli("fsck", "--json")
    assert fsck.returncode == 0 and json.loads(fsck.stdout)["ok"]


def test_kill_9_of_roar_run_at_any_instant_leaves_a_sound_store(roar_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    roar_cli("init", "-n")
    rng = random.Random(7)
    completed = 0
    for i in range(20):
        proc = subprocess.Popen(
            [sys.executable, "-m", "roar", "run", "-q", "python", "-c",
             f"open('f{i}.txt','w').write('{i}')"],
            cwd=tmp_path, env=roar_env(), start_new_session=True,
        )  # fmt: skip
        time.sleep(rng.uniform(0.0, 0.4))
        os.killpg(proc.pid, signal.SIGKILL)  # roar, the tracer and the command
        if proc.wait() == 0:
            completed += 1
        fsck = roar_cli("fsck", "--json")
        assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    log = json.loads(roar_cli("log", "--json").stdout)
    assert len(log) >= completed  # every run that finished is recorded
    assert roar_cli("run", "-q", "python", "-c", "pass").returncode == 0  # still usable
