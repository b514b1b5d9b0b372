"""Start a `glaas-server` on a free loopback port and wait until it answers.

For the things that need a real registry next to them: the tests, the
benchmarks. Loopback only, by construction.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(database_url: str, log: Path) -> tuple[str, subprocess.Popen]:  # type: ignore[type-arg]
    """`glaas-server serve` over `database_url`; returns (its URL, its process)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "roar.server", "serve", "--port", str(port)],
        env={**os.environ, "GLAAS_DATABASE_URL": database_url},
        stdout=open(log, "ab"),  # noqa: SIM115 - the process owns it
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"glaas-server exited: {log.read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/api/v1")
            if conn.getresponse().status == 200:
                return f"http://127.0.0.1:{port}", proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"glaas-server did not start within {START_TIMEOUT:.0f} s")


def stop(procs: list[subprocess.Popen]) -> None:  # type: ignore[type-arg]
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
