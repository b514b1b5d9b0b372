"""Fixtures for GLaaS: real `glaas-server` processes on 127.0.0.1, per backend.

`glaas` is parametrized over SQLite (a data directory) and PostgreSQL (a
cluster this fixture creates with initdb and starts with pg_ctl on a free
port, as the `postgres` user when run as root). Users are separate HOME /
XDG_CONFIG_HOME directories, so each has its own key and logins.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from roar.objects.job import ArtifactRef, Job
from roar.sessions import append
from roar.workspace import Workspace

PG_BIN_DIRS = [Path("/usr/lib/postgresql") / v / "bin" for v in ("17", "16", "15", "14", "13")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin(name: str) -> str | None:
    for d in PG_BIN_DIRS:
        if (d / name).exists():
            return str(d / name)
    return shutil.which(name)


@dataclass
class PgCluster:
    url_base: str
    datadir: Path

    def new_database(self) -> str:
        import psycopg

        name = f"glaas_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url_base + "postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return "postgresql+psycopg://" + self.url_base.split("://", 1)[1] + name


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip(
            "PostgreSQL binaries (initdb, pg_ctl) are not installed; `make test` installs them"
        )
    root = Path(tempfile.mkdtemp(prefix="glaas-pg-"))
    datadir, sockdir = root / "data", root / "sock"
    sockdir.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:
        # initdb refuses to run as root: the cluster belongs to `postgres`.
        shutil.chown(root, "postgres")
        shutil.chown(sockdir, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run(
        [*as_user, initdb, "-D", str(datadir), "-A", "trust", "-U", "postgres", "--no-sync"],
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {sockdir} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [*as_user, pg_ctl, "-D", str(datadir), "-o", opts, "-l", str(root / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield PgCluster(f"postgresql://postgres@127.0.0.1:{port}/", datadir)
    finally:
        subprocess.run(
            [*as_user, pg_ctl, "-D", str(datadir), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Glaas:
    """A running registry: its URL, its database URL, and its processes."""

    url: str
    database_url: str
    backend: str
    procs: list[subprocess.Popen]

    def storage(self):  # type: ignore[no-untyped-def]
        from roar.server.storage import Storage

        return Storage(self.database_url)

    def stats(self) -> dict[str, int]:
        s = self.storage()
        try:
            return s.stats()
        finally:
            s.close()

    def admin(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "roar.server",
                "admin",
                *args,
                "--database-url",
                self.database_url,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )


def start_server(database_url: str, log: Path) -> tuple[str, subprocess.Popen]:
    import requests

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "roar.server", "serve", "--port", str(port)],
        env={**os.environ, "GLAAS_DATABASE_URL": database_url},
        stdout=open(log, "ab"),  # noqa: SIM115 - the process owns it
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"glaas-server exited: {log.read_text()[-2000:]}")
        try:
            if requests.get(url + "/api/v1", timeout=1).ok:
                return url, proc
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("glaas-server did not start within 30 s")


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def glaas(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Glaas]:
    """One registry per test module and backend; tests tell their data apart by content."""
    tmp = tmp_path_factory.mktemp(f"glaas-{request.param}")
    if request.param == "sqlite":
        db = f"sqlite:///{tmp / 'glaas.sqlite3'}"
    else:
        db = request.getfixturevalue("pg_cluster").new_database()
    url, proc = start_server(db, tmp / "server.log")
    server = Glaas(url, db, request.param, [proc])
    yield server
    stop(server.procs)


@dataclass
class User:
    """A person at a machine: their own HOME, key and logins, and a workspace."""

    name: str
    home: Path
    env: dict[str, str]
    ws: Workspace

    def key(self):  # type: ignore[no-untyped-def]
        from roar.identity import keys

        old = {k: os.environ.get(k) for k in ("HOME", "XDG_CONFIG_HOME")}
        os.environ.update({k: self.env[k] for k in old})
        try:
            return keys.load_key()
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


@pytest.fixture
def make_user(tmp_path: Path, glaas: Glaas, roar_cli):  # type: ignore[no-untyped-def]
    def make(name: str, *, login: bool = False) -> User:
        home = tmp_path / f"home-{name}"
        (home / "ws").mkdir(parents=True)
        env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
        ws, _ = Workspace.create(home / "ws")
        ws.config.set("glaas.url", glaas.url)
        ws.config.set("store.fsync", "false")
        user = User(name, home, env, ws)
        if login:
            account = f"{name}-{uuid.uuid4().hex[:6]}"
            r = roar_cli("login", "--name", account, cwd=ws.root, env=env)
            assert r.returncode == 0, r.stderr
            user.name = account
        return user

    return make


@pytest.fixture
def cli_as(roar_cli):  # type: ignore[no-untyped-def]
    """Run `roar` as a user, in their workspace."""

    def run(user: User, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        return roar_cli(*args, cwd=user.ws.root, env=user.env, input=input)

    return run


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
