"""GLaaS: register a 1,000-job session to a local server, then register it again.

Targets (docs/benchmarks.md, "GLaaS"): the first push under 2 s, the second
sends under 1 KiB of objects. The million-artifact lookup load is
`benchmarks/glaas_load.py` (a script: it seeds for tens of seconds).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from glaas_load import start_server  # noqa: E402

from roar.objects.job import ArtifactRef, Job  # noqa: E402
from roar.workspace import Workspace  # noqa: E402

JOBS = 1000


def session_of(ws: Workspace, jobs: int) -> None:
    """A chain of `jobs` steps, each reading its predecessor's output."""
    from roar.sessions import append

    root = bytes(ws.root)
    previous = None
    for i in range(jobs):
        out = ArtifactRef(root + f"/out/{i:04}.bin".encode(), f"{i:064x}", 1000)
        job = Job(
            "run",
            (b"python", b"step.py", str(i).encode()),
            root,
            i,
            i + 1,
            0,
            inputs=(previous,) if previous else (),
            outputs=(out,),
        )
        append(ws, ws.objects.write(job), "run")
        previous = ArtifactRef(out.path, out.hash, out.size)


@pytest.fixture(scope="module")
def server(tmp_path_factory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("glaas")
    url, proc = start_server(f"sqlite:///{tmp / 'glaas.sqlite3'}", tmp / "server.log")
    yield url
    proc.terminate()
    proc.wait(10)


def register(ws: Workspace, url: str):  # type: ignore[no-untyped-def]
    from roar.identity.keys import load_key
    from roar.remote.client import RemoteClient
    from roar.remote.closure import plan, resolve_target
    from roar.remote.push import push
    from roar.remote.remotes import Remote

    client = RemoteClient(url, load_key(), "anonymous")
    try:
        return push(ws, Remote("bench", url), client, plan(ws, resolve_target(ws, None)))
    finally:
        client.close()


def test_register_1000_job_session_then_again(tmp_path, server, benchmark, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("HOME", str(tmp_path))
    ws, _ = Workspace.create(tmp_path / "ws")
    ws.config.set("store.fsync", "false")
    session_of(ws, JOBS)
    t0 = time.perf_counter()
    first = register(Workspace(ws.root), server)
    first_s = time.perf_counter() - t0
    assert first.sent == 2 * JOBS
    again = benchmark.pedantic(register, args=(ws, server), rounds=5, iterations=1)
    assert again.sent == 0 and again.pack_bytes < 1024
    benchmark.extra_info.update(
        first_push_s=round(first_s, 3),
        first_pack_bytes=first.pack_bytes,
        second_objects_sent=again.sent,
        second_pack_bytes=again.pack_bytes,
    )
    print(
        f"\nfirst register: {first_s * 1000:.0f} ms, {first.sent} objects, "
        f"{first.pack_bytes} bytes; again: {again.sent} objects, {again.pack_bytes} bytes"
    )
