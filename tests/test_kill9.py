"""A kill -9 at any instant leaves a store that fsck passes, with every completed step."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time

from roar.fsck import fsck
from roar.workspace import Workspace

WRITER = r"""
import sys, time
from pathlib import Path
from roar.objects.job import Job
from roar.objects.session import Session
from roar.objects.label import Label
from roar.workspace import Workspace
ws = Workspace(Path(sys.argv[1]))
ref = "refs/sessions/main"
i = 0
print("ready", flush=True)
while True:
    parent = ws.refs.read(ref)
    job = ws.objects.write(Job(type="run", argv=(b"step", str(i).encode()), cwd=b"/",
                               started_ns=time.time_ns(), ended_ns=time.time_ns(), exit_code=0))
    sid = ws.objects.write(Session(parent, job, i + 1, "run", time.time_ns()))
    ws.refs.update(ref, sid, parent, "run")
    label_ref = "refs/labels/" + job
    ws.refs.update(label_ref, ws.objects.write(Label(job, {"i": i}, None, 0)), None)
    print(sid, flush=True)
    i += 1
"""


def test_kill_9_during_writes_never_damages_the_store(workspace: Workspace) -> None:
    rng = random.Random(1234)
    completed: list[str] = []
    for _ in range(100):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(workspace.root)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        completed.append(proc.stdout.readline().strip())  # one step done, then kill mid-way
        time.sleep(rng.uniform(0, 0.05))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        completed.extend(line for line in out.split() if len(line) == 64)

        fresh = Workspace(workspace.root)
        report = fsck(fresh)
        assert report.ok, report.problems
        reachable, cur = set(), fresh.refs.read("refs/sessions/main")
        while cur is not None:
            reachable.add(cur)
            cur = fresh.objects.read(cur).parent
        assert set(completed) <= reachable
    assert len(completed) >= 100  # every writer completed a step before its kill
