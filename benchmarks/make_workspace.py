"""Build a workspace holding N recorded jobs, for the inspection benchmarks.

    python benchmarks/make_workspace.py DIR [N]

Jobs are written through the object API, shaped like a real pipeline: each
step reads the previous step's output plus a shared dataset and writes one
new artifact, so the DAG is a long chain with a common root. The session
chain is written as objects and its ref set once (appending 10,000 steps
one `roar-tracer append` at a time would time the fixture, not roar).
"""

from __future__ import annotations

import sys
from pathlib import Path

from roar.objects.job import ArtifactRef, Job
from roar.objects.session import Session
from roar.workspace import Workspace


def build(root: Path, count: int) -> str:
    ws, _ = Workspace.create(root)
    ws.objects.fsync = False
    ws.refs.fsync = False
    shared = ArtifactRef(str(root / "data/raw.csv").encode(), "f" * 64, 1 << 20)
    previous: ArtifactRef | None = None
    head: str | None = None
    last = ""
    for i in range(count):
        out = ArtifactRef(str(root / f"out/step-{i}.bin").encode(), f"{i:064x}", 1000 + i)
        inputs = sorted([shared] + ([previous] if previous else []), key=lambda a: a.path)
        job = Job(
            type="run",
            argv=(b"python", b"step.py", f"--index={i}".encode()),
            cwd=str(root).encode(),
            started_ns=i * 1000,
            ended_ns=i * 1000 + 500,
            exit_code=0,
            inputs=tuple(inputs),
            outputs=(out,),
        )
        oid = ws.objects.write(job)
        head = ws.objects.write(Session(head, oid, i + 1, "run", i * 1000 + 600))
        previous = out
        last = out.hash
    if head is not None:
        ws.refs.update("refs/sessions/main", head)
    return last


if __name__ == "__main__":
    target = Path(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    print(build(target, n))
