"""A real PostgreSQL for the tests that need one: a cluster made with initdb and
started with pg_ctl on a free loopback port, once per test session (the
`pg_cluster` fixture, registered in tests/conftest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from roar.server.launch import free_port

PG_BIN_DIRS = [Path("/usr/lib/postgresql") / v / "bin" for v in ("17", "16", "15", "14", "13")]


def _pg_bin(name: str) -> str | None:
    for d in PG_BIN_DIRS:
        if (d / name).exists():
            return str(d / name)
    return shutil.which(name)


@dataclass
class PgCluster:
    url_base: str
    datadir: Path

    def new_database(self, *, icu_locale: str | None = None) -> str:
        """A fresh database; with `icu_locale` (e.g. "en-US") its text sorts by that
        language's rules, not bytewise, as many deployed databases do."""
        import psycopg

        name = f"glaas_{uuid.uuid4().hex[:12]}"
        locale = (
            f" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE '{icu_locale}'"
            if icu_locale
            else ""
        )
        with psycopg.connect(self.url_base + "postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{locale}')
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
