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

from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    LargeBinary,
    and_,
    bindparam,
    create_engine,
    event,
    func,
    inspect,
    literal,
    or_,
)
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from roar.errors import RoarError
from roar.server import schema as t
from roar.server.scope import Caller

CHUNK = 500  # ids per IN (...) list: well under every driver's parameter limit


class Database:
    def __init__(self, url: str):
        self.url = url
        self.engine = _engine(url)
        self._create_schema()

    def _create_schema(self) -> None:
        self._check_paths_are_bytes()
        # Two processes starting together may race on CREATE TABLE; the loser retries.
        for attempt in range(5):
            try:
                t.metadata.create_all(self.engine)
                return
            except (IntegrityError, OperationalError):
                if attempt == 4:
                    raise
                time.sleep(0.2)

    def _check_paths_are_bytes(self) -> None:
        """Refuse, before creating anything, a database made before the index kept
        paths as bytes: create_all leaves an existing table as it is, and a text
        column there would garble (SQLite) or refuse (PostgreSQL) every path that
        is not UTF-8. Nothing is migrated (docs/protocol.md §3)."""
        found = inspect(self.engine)
        if not found.has_table("artifact_jobs"):
            return
        path = next((c for c in found.get_columns("artifact_jobs") if c["name"] == "path"), None)
        if path is None or not isinstance(path["type"], LargeBinary):
            self.engine.dispose()
            raise RoarError(
                f"the registry database {self.engine.url} has an index made before paths "
                f"were kept as bytes (artifact_jobs.path is {path and path['type']}); "
                "start the server on a new database"
            )

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


class _BytesFind(FunctionElement[int]):
    """1 + the offset of bytes `needle` in bytes `haystack`, 0 when absent."""

    type = Integer()
    inherit_cache = True


@compiles(_BytesFind)
def _bytes_find_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    haystack, needle = element.clauses
    return f"instr({compiler.process(haystack, **kw)}, {compiler.process(needle, **kw)})"


@compiles(_BytesFind, "postgresql")
def _bytes_find_postgresql(element: Any, compiler: Any, **kw: Any) -> str:
    haystack, needle = element.clauses
    return f"position({compiler.process(needle, **kw)} in {compiler.process(haystack, **kw)})"


def bytes_contain(column: Any, needle: bytes) -> Any:
    """`column` (a bytes column: a path) holds `needle`, byte for byte (case matters)."""
    return _BytesFind(column, literal(needle, LargeBinary)) > 0


def bytes_end(column: Any, suffix: bytes) -> Any:
    """`column` (a bytes column: a path) ends with `suffix`, byte for byte."""
    n = len(suffix)
    return and_(
        func.length(column) >= n,
        func.substr(column, func.length(column) - n + 1) == literal(suffix, LargeBinary),
    )


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
