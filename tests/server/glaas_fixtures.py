"""Helpers the GLaaS tests share: server processes and a recorded pipeline.

A module of its own (not conftest.py) so test files can import it by a name
no other directory's conftest shadows.
"""

from __future__ import annotations

import time
import uuid

from roar.objects.job import ArtifactRef, Job
from roar.server.launch import free_port, start_server, stop  # noqa: F401 - used by the tests
from roar.sessions import append
from roar.workspace import Workspace

# The browser tests' Chromium: Debian's package, never a downloaded one.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def record_pipeline(ws: Workspace, tag: str | None = None) -> dict[str, str]:
    """A 3-step diamond: prep writes a.csv; train reads a.csv, writes model.pt;
    eval reads model.pt and a.csv, writes metrics.json. Returns artifact hashes by name."""
    import blake3

    tag = tag or uuid.uuid4().hex
    root = bytes(ws.root)
    files = {n: blake3.blake3(f"{n}:{tag}".encode()).hexdigest() for n in ("a", "model", "metrics")}
    now = time.time_ns()

    def art(name: str, rel: str) -> ArtifactRef:
        return ArtifactRef(root + b"/" + rel.encode(), files[name], 100)

    steps = [
        Job("run", (b"python", b"prep.py", tag.encode()), root, now, now + 1, 0,
            outputs=(art("a", "a.csv"),)),
        Job("run", (b"python", b"train.py"), root, now + 2, now + 3, 0,
            inputs=(art("a", "a.csv"),), outputs=(art("model", "model.pt"),)),
        Job("run", (b"python", b"eval.py"), root, now + 4, now + 5, 0,
            inputs=(art("a", "a.csv"), art("model", "model.pt")),
            outputs=(art("metrics", "metrics.json"),)),
    ]  # fmt: skip
    for job in steps:
        append(ws, ws.objects.write(job), "run")
    return files
