"""What hostile requests cost a `glaas-server`: peak memory and time (issue #11, items 7-8).

Each case runs against a fresh server process on 127.0.0.1 over SQLite, so
its peak RSS (VmHWM) is the case's own; the server's code is the `roar`
package under `--roar` (default: this checkout), so the same cases measure
any revision. Cases:

- `bomb push`: a 1.4 KB pack holding one job whose context is a list of 15
  million empty maps (valid CBOR, valid job), signed, anonymous;
- `bomb read`: an unsigned GET /api/v1/jobs/<id> of it, when it was stored
  (by another server process: the reader's peak is its own);
- `unsigned push`: a 250 MiB unsigned push body;
- `signed 250 MiB push`: the same, signed by a throwaway key (anyone can make
  one): it must be read, and is refused as not a pack;
- `unsigned web-login`: a 400 MiB unsigned POST /api/v1/web-login;
- `1000-job push`: a legitimate session of 1,000 jobs (2,000 objects).

    .venv/bin/python benchmarks/registry_limits.py [--roar /path/with/roar] [--rounds 3]

Prints one markdown table: median wall time of the request and median
peak-RSS growth of the server over its idle peak, per case.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import zstandard

from roar.identity.keys import SigningKey
from roar.identity.signature import sign_headers
from roar.objects.base import header, object_id
from roar.objects.job import ArtifactRef, Job
from roar.objects.pack import PackEntry, encode_pack
from roar.objects.session import Session
from roar.server.launch import free_port

MiB = 1024 * 1024
HERE = Path(__file__).resolve().parents[1]


def bomb_job(maps: int = 15_000_000) -> bytes:
    """A valid job object whose context is {"x": [{}, {}, ...]}: tiny when compressed."""
    marker = b"\x00BOMB-MARKER\x00"
    value = Job("run", (b"echo", b"bomb"), b"/w", 1, 2, 0, context={"x": marker})
    body = value.body()
    encoded_marker = bytes([0x40 + len(marker)]) + marker
    assert body.count(encoded_marker) == 1
    body = body.replace(encoded_marker, b"\x9a" + maps.to_bytes(4, "big") + b"\xa0" * maps)
    return header("job", len(body)) + body


def session_pack(jobs: int) -> tuple[bytes, str]:
    """A pack of a `jobs`-step session (each step reading the previous output); its head."""
    entries, parent, previous = [], None, None
    for i in range(jobs):
        out = ArtifactRef(f"/w/out/{i:04}.bin".encode(), f"{i:064x}", 1000)
        job = Job("run", (b"python", b"step.py", str(i).encode()), b"/w", i, i + 1, 0,
                  inputs=(previous,) if previous else (), outputs=(out,))  # fmt: skip
        step = Session(parent, job.id, i + 1, "run", i)
        for obj in (job, step):
            raw = obj.serialize()
            entries.append(PackEntry(object_id(raw), zstd(raw)))
        parent, previous = step.id, out
    assert parent is not None
    return encode_pack(entries), parent


def zstd(raw: bytes) -> bytes:
    return zstandard.ZstdCompressor(write_content_size=True).compress(raw)


class Server:
    def __init__(self, roar: Path, tmp: Path):
        self.port = free_port()
        env = {**os.environ, "PYTHONPATH": str(roar),
               "GLAAS_DATABASE_URL": f"sqlite:///{tmp / 'glaas.sqlite3'}"}  # fmt: skip
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "roar.server", "serve", "--port", str(self.port)],
            cwd=roar, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/api/v1")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def peak_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM")

    def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
        declared: int | None = None,
    ) -> tuple[int, bytes]:  # fmt: skip
        """Send `body` (or `declared` zero bytes, streamed) and read the answer."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        conn.putrequest(method, path)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        length = len(body) if declared is None else declared
        conn.putheader("Content-Length", str(length))
        conn.endheaders()
        try:
            if declared is None:
                conn.send(body)
            else:
                chunk = bytes(MiB)
                for _ in range(declared // MiB):
                    conn.send(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered before the body ended
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, data

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def signed(key: SigningKey, path: str, body: bytes, query: str = "") -> dict[str, str]:
    return {**sign_headers(key, "POST", path, query, body, "anonymous"),
            "Content-Type": "application/x-roar-pack"}  # fmt: skip


def measure(roar: Path, case: str, key: SigningKey) -> tuple[float, float, int]:
    """(seconds, peak RSS growth in MiB, status) of one case on a fresh server."""
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(roar, Path(tmp))
        try:
            if case == "bomb read":
                # Stored by one process (if the server takes it); read by a fresh one.
                raw = bomb_job()
                body = encode_pack([PackEntry(object_id(raw), zstd(raw))])
                headers = signed(key, "/api/v1/push", body)
                status, _ = server.request("POST", "/api/v1/push", body, headers)
                server.stop()
                server = Server(roar, Path(tmp))
                if status != 200:
                    return 0.0, 0.0, status
            idle = server.peak_mib()
            started = time.perf_counter()
            if case == "bomb push":
                raw = bomb_job()
                body = encode_pack([PackEntry(object_id(raw), zstd(raw))])
                status, _ = server.request(
                    "POST", "/api/v1/push", body, signed(key, "/api/v1/push", body)
                )
            elif case == "bomb read":
                status, _ = server.request("GET", f"/api/v1/jobs/{object_id(bomb_job())}")
            elif case == "unsigned push":
                status, _ = server.request("POST", "/api/v1/push", declared=250 * MiB)
            elif case == "signed 250 MiB push":
                headers = signed(key, "/api/v1/push", bytes(250 * MiB))
                status, _ = server.request(
                    "POST", "/api/v1/push", headers=headers, declared=250 * MiB
                )
            elif case == "unsigned web-login":
                status, _ = server.request("POST", "/api/v1/web-login", declared=400 * MiB)
            else:
                body, head = session_pack(1000)
                query = f"ref=sessions%2Fmain&new={head}"
                path = f"/api/v1/push?{query}"
                status, _ = server.request(
                    "POST", path, body, signed(key, "/api/v1/push", body, query)
                )
            seconds = time.perf_counter() - started
            return seconds, server.peak_mib() - idle, status
        finally:
            server.stop()


CASES = [
    "bomb push",
    "bomb read",
    "unsigned push",
    "signed 250 MiB push",
    "unsigned web-login",
    "1000-job push",
]


def main() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--roar", type=Path, default=HERE, help="directory holding roar/")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cases", default=",".join(CASES))
    args = parser.parse_args()
    key = SigningKey(Ed25519PrivateKey.generate(), Path("bench-key"))
    print(f"server code: {args.roar}  ({args.rounds} rounds, fresh server each)")
    print("| case | status | time (median) | server peak RSS growth (median) |")
    print("|---|---|---|---|")
    for case in args.cases.split(","):
        runs = [measure(args.roar, case, key) for _ in range(args.rounds)]
        seconds = statistics.median(r[0] for r in runs)
        grown = statistics.median(r[1] for r in runs)
        statuses = sorted({r[2] for r in runs})
        print(f"| {case} | {', '.join(map(str, statuses))} | {seconds:.2f} s | {grown:.0f} MiB |")


if __name__ == "__main__":
    main()
