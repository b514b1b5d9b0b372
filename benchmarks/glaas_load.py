"""GLaaS lookup under load: a million registered artifacts on SQLite, 200 lookups/s.

Seeds the rows straight into the server's SQLite database (through the
server's own schema), starts `glaas-server` on 127.0.0.1, then drives
lookups by hash at a fixed rate from a few keep-alive connections and
prints the latency percentiles. Bounded: `--requests` lookups, at most
`--seconds` of driving.

    .venv/bin/python benchmarks/glaas_load.py --artifacts 1000000 --rate 200 --requests 6000
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path

import zstandard

from roar.objects.job import ArtifactRef, Job
from roar.server.launch import start_server  # noqa: E402,F401 - used below and by the benchmarks

ARTIFACTS_PER_JOB = 10


def seed(db_path: Path, artifacts: int) -> list[str]:
    """Register `artifacts` hashes, each written by one of artifacts/10 public jobs."""
    from roar.server.storage import Storage

    Storage(f"sqlite:///{db_path}").close()  # the schema, exactly as the server makes it
    rng = random.Random(42)
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    now = time.time_ns()
    hashes: list[str] = []
    batch = 50_000
    zstd = zstandard.ZstdCompressor(write_content_size=True)
    for start in range(0, artifacts, batch):
        n = min(batch, artifacts - start)
        chunk = [rng.randbytes(32).hex() for _ in range(n)]
        hashes.extend(chunk)
        # Real job objects (the lineage rules read them to choose a producer).
        outputs: dict[int, list[ArtifactRef]] = {}
        for i, h in enumerate(chunk):
            path = f"/data/out/{start + i}.bin".encode()
            outputs.setdefault((start + i) // ARTIFACTS_PER_JOB, []).append(
                ArtifactRef(path, h, 100)
            )
        job_ids = {}
        frames = []
        for job_no, outs in outputs.items():
            argv = (b"python", b"step.py", b"--shard", str(job_no).encode())
            job = Job("run", argv, b"/data", now, now + 1, 0, outputs=tuple(outs))
            raw = job.serialize()
            job_ids[job_no] = job.id
            frames.append((job.id, zstd.compress(raw), len(raw)))
        conn.executemany(
            "INSERT INTO objects VALUES (?, 'job', ?, ?, ?)",
            [(oid, size, frame, now) for oid, frame, size in frames],
        )
        conn.executemany(
            "INSERT INTO object_ns VALUES (?, 'anon', 1, ?)", [(oid, now) for oid, _, _ in frames]
        )
        conn.executemany("INSERT INTO artifacts VALUES (?, ?)", [(h, now) for h in chunk])
        conn.executemany(
            "INSERT INTO artifact_jobs VALUES (?, ?, 'out', ?, 100, 'file', 'anon', 1)",
            [
                (h, job_ids[(start + i) // ARTIFACTS_PER_JOB], f"/data/out/{start + i}.bin")
                for i, h in enumerate(chunk)
            ],
        )
        conn.executemany(
            "INSERT INTO jobs VALUES (?, 'anon', 1, NULL, ?, 'run', ?, ?, 0, NULL)",
            [(j, f"python step.py --shard {n}", now, now + 1) for n, j in job_ids.items()],
        )
        conn.executemany(
            "INSERT INTO sessions VALUES (?, 'anon', 1, ?, NULL, 1, 'run', NULL, ?)",
            [(f"{n:064x}"[::-1], j, now) for n, j in job_ids.items()],
        )
        conn.commit()
    conn.close()
    return hashes


def drive(url: str, hashes: list[str], rate: float, requests: int, seconds: float, workers: int):
    """Open-loop lookups at `rate`/s; latencies in ms, measured from the scheduled time."""
    host, port = url.split("//")[1].split(":")
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    start = time.monotonic() + 0.2
    deadline = start + seconds
    rng = random.Random(7)
    picks = [rng.choice(hashes) for _ in range(requests)]

    def worker(k: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        for i in range(k, requests, workers):
            due = start + i / rate
            if due > deadline:
                return
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            conn.request("GET", f"/api/v1/lookup/{picks[i]}")
            resp = conn.getresponse()
            body = resp.read()
            took = (time.monotonic() - due) * 1000
            with lock:
                latencies.append(took)
                if resp.status != 200 or not json.loads(body)["artifact"]["produced_by"]:
                    errors[0] += 1

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    return latencies, errors[0], elapsed


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--artifacts", type=int, default=1_000_000)
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--requests", type=int, default=6000)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--db", type=Path, help="Keep the seeded database here; reuse it if present.")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="glaas-load-") as tmp:
        db = args.db or Path(tmp) / "glaas.sqlite3"
        t0 = time.monotonic()
        if db.exists():
            hashes = [h for (h,) in sqlite3.connect(db).execute("SELECT hash FROM artifacts")]
        else:
            hashes = seed(db, args.artifacts)
        seeded = time.monotonic() - t0
        url, proc = start_server(f"sqlite:///{db}", Path(tmp) / "server.log")
        try:
            drive(url, hashes, args.rate, min(200, args.requests), 5, args.workers)  # warm up
            lat, errors, elapsed = drive(
                url, hashes, args.rate, args.requests, args.seconds, args.workers
            )
        finally:
            proc.terminate()
            proc.wait(10)
    result = {
        "artifacts": len(hashes),
        "seed_s": round(seeded, 1),
        "requests": len(lat),
        "errors": errors,
        "achieved_rate": round(len(lat) / elapsed, 1),
        "p50_ms": round(statistics.median(lat), 2),
        "p90_ms": round(percentile(lat, 90), 2),
        "p99_ms": round(percentile(lat, 99), 2),
        "max_ms": round(max(lat), 2),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:>14}: {v}")


if __name__ == "__main__":
    main()
