"""The rule suite's sources: one world served by each LineageSource implementation
(in memory, object store, session index, and the registry's database on SQLite
and on PostgreSQL)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import zstandard
from worlds import SourceMaker, World

from roar.index.source import IndexSource
from roar.lineage.objectsource import ObjectSource
from roar.lineage.source import LineageSource
from roar.objects.pack import PackEntry, encode_pack
from roar.objects.session import Session
from roar.workspace import Workspace

# Where the registry keeps a world's refs: a local session is pushed by alice, a
# remote-tracking one (refs/remotes/origin/...) by origin; both publicly.
PUSHERS = {"refs/sessions/": "alice", "refs/remotes/origin/sessions/": "origin"}


class Maker:
    """Serves a world from one implementation; `ref` names a world's ref as it does."""

    def __init__(self, kind: str, tmp_path: Path, request: pytest.FixtureRequest):
        self.kind = kind
        self.tmp_path = tmp_path
        self.request = request
        self.storages: list[object] = []

    def __call__(self, world: World) -> LineageSource:
        if self.kind.startswith("registry"):
            return self._registry(world)
        if self.kind == "memory":
            return ObjectSource.in_memory(world.objects, world.refs)
        ws, _ = Workspace.create(self.tmp_path / f"ws{len(self.storages)}")
        self.storages.append(ws)
        ws.objects.fsync = False
        ws.refs.fsync = False
        for oid, obj in world.objects.items():
            assert ws.objects.write(obj) == oid
        for ref, head in world.refs.items():
            ws.refs.update(ref, head)
        return ObjectSource.from_workspace(ws) if self.kind == "store" else IndexSource(ws)

    def ref(self, world_ref: str) -> str:
        """The source's name for a world's ref."""
        if not self.kind.startswith("registry"):
            return world_ref
        from roar.server.storage.lineage import source_ref

        ns, name = _pushed_as(world_ref)
        return source_ref(ns, name)

    def _registry(self, world: World) -> LineageSource:
        """Pushes the world through the registry's own push path (pack checked and
        indexed, refs moved by compare-and-swap), then reads it as an anonymous visitor."""
        from roar.server.limits import Limits
        from roar.server.scope import NOBODY, Namespace
        from roar.server.storage import Storage
        from roar.server.storage.records import RefUpdate
        from roar.server.verify import check_pack, unresolved_references

        if self.kind == "registry-sqlite":
            url = f"sqlite:///{self.tmp_path / f'glaas{len(self.storages)}.sqlite3'}"
        else:
            # A language's collation, under which text does not sort bytewise.
            url = self.request.getfixturevalue("pg_cluster").new_database(icu_locale="en-US")
        storage = Storage(url)
        self.storages.append(storage)
        self.request.addfinalizer(storage.close)
        zstd = zstandard.ZstdCompressor(write_content_size=True)

        def push(ns: str, oids: list[str], ref: RefUpdate | None = None) -> None:
            pack = encode_pack(
                PackEntry(oid, zstd.compress(world.objects[oid].serialize()))
                for oid in sorted(oids)
            )
            objs = check_pack(pack, Limits(), time.time_ns())
            where = Namespace(ns, True, ns, ns.removeprefix("public:"))
            storage.push.apply(objs, unresolved_references(objs), where, ref)

        steps = {oid for oid, obj in world.objects.items() if isinstance(obj, Session)}
        for ns in sorted({"public:alice"} | {_pushed_as(r)[0] for r in world.refs}):
            push(ns, [oid for oid in world.objects if oid not in steps])
        # Each ref moves a step at a time, each push holding its session object, as
        # `roar register` after every run does (the fast-forward path of a ref move).
        for world_ref, head in world.refs.items():
            ns, name = _pushed_as(world_ref)
            chain: list[str] = []
            cur: str | None = head
            while cur is not None:
                chain.append(cur)
                step = world.objects[cur]
                assert isinstance(step, Session)
                cur = step.parent
            old = None
            for sid in reversed(chain):
                push(ns, [sid], RefUpdate(name, old, sid))
                old = sid
        return storage.source(NOBODY)


def _pushed_as(world_ref: str) -> tuple[str, str]:
    """(namespace, registry ref name) a world's ref is pushed as."""
    for prefix, pusher in PUSHERS.items():
        if world_ref.startswith(prefix):
            return f"public:{pusher}", "sessions/" + world_ref.removeprefix(prefix)
    raise AssertionError(f"no pusher for {world_ref}")


@pytest.fixture(params=["memory", "store", "index", "registry-sqlite", "registry-postgresql"])
def source_of(request: pytest.FixtureRequest, tmp_path: Path) -> SourceMaker:
    """Builds the parametrized implementation over a world."""
    return Maker(request.param, tmp_path, request)
