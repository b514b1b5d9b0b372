"""Fixtures for GLaaS: real `glaas-server` processes on 127.0.0.1, per backend.

`glaas` is parametrized over SQLite (a data directory) and PostgreSQL (a
cluster this fixture creates with initdb and starts with pg_ctl on a free
port, as the `postgres` user when run as root). Users are separate HOME /
XDG_CONFIG_HOME directories, so each has its own key and logins.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from glaas_fixtures import CHROMIUM, CHROMIUM_ARGS, start_server, stop  # noqa: E402

from roar.workspace import Workspace


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


@pytest.fixture(scope="session")
def chromium():  # type: ignore[no-untyped-def]
    """Debian's Chromium, driven by Playwright (no downloaded browsers)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed; `make test` installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(chromium):  # type: ignore[no-untyped-def]
    """A page in a fresh browser context (its own cookies): one visitor."""
    contexts = []

    def make():  # type: ignore[no-untyped-def]
        ctx = chromium.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(15_000)
        return page

    yield make
    for ctx in contexts:
        ctx.close()
