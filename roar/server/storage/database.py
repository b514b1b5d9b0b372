"""The registry's database: one engine, transactions, and the helpers every query shares.

One `Database` per process holds only an engine; everything else is in the
database, so processes behind one PostgreSQL agree. Writes take SQLite's
lock up front; reads never write.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, create_engine, event, or_
from sqlalchemy.exc import IntegrityError, OperationalError

from roar.server import schema as t
from roar.server.scope import Caller

CHUNK = 500  # ids per IN (...) list: well under every driver's parameter limit


class Database:
    def __init__(self, url: str):
        self.url = url
        self.engine = _engine(url)
        self._create_schema()

    def _create_schema(self) -> None:
        # Two processes starting together may race on CREATE TABLE; the loser retries.
        for attempt in range(5):
            try:
                t.metadata.create_all(self.engine)
                return
            except (IntegrityError, OperationalError):
                if attempt == 4:
                    raise
                time.sleep(0.2)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (on SQLite, one that takes the write lock up front)."""
        with self.engine.connect().execution_options(write=True) as conn, conn.begin():
            yield conn


def insert_ignore(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING, in chunks."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]
    for i in range(0, len(rows), CHUNK):
        conn.execute(dialect_insert(table).on_conflict_do_nothing(), rows[i : i + CHUNK])


def chunks(items: Iterable[str]) -> Iterator[list[str]]:
    """Sorted, distinct ids in CHUNK-sized lists."""
    ordered = sorted(set(items))
    for i in range(0, len(ordered), CHUNK):
        yield ordered[i : i + CHUNK]


def visible(table: Any, caller: Caller) -> Any:
    """The rows of a namespaced table the caller may read."""
    readable = caller.readable()
    if not readable:
        return table.c.public
    return or_(table.c.public, table.c.ns.in_(readable))


READABLE = "readable"


def visible_to(table: Any) -> Any:
    """`visible` for a statement built once and run for any caller: the caller's
    namespaces are its expanding parameter `readable` (give it `reading(caller)`).
    A statement built once skips SQLAlchemy's construction and cache-key work
    on every run, which costs more than an indexed point query."""
    return or_(table.c.public, table.c.ns.in_(bindparam(READABLE, expanding=True)))


def reading(caller: Caller, **params: Any) -> dict[str, Any]:
    """The parameters of a `visible_to` statement for `caller`, and `params`."""
    return {READABLE: list(caller.readable()), **params}


def _engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _: Any) -> None:
        # Let SQLAlchemy's begin event issue BEGIN itself (pysqlite's own is deferred only).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        # Lookups touch a few random B-tree pages each: keep hot pages in the
        # process and map the file so a million-artifact index reads without syscalls.
        cur.execute("PRAGMA cache_size=-65536")
        cur.execute("PRAGMA mmap_size=4294967296")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # A write takes the lock up front: two deferred readers that both try to
        # upgrade would deadlock and SQLite would fail one without waiting.
        conn.exec_driver_sql(
            "BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN"
        )

    return engine
