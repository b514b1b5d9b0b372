"""The rule suite's sources: one world served by each LineageSource implementation
(in memory, object store, session index)."""

from __future__ import annotations

from pathlib import Path

import pytest
from worlds import SourceMaker, World

from roar.index.source import IndexSource
from roar.lineage.objectsource import ObjectSource
from roar.lineage.source import LineageSource
from roar.workspace import Workspace


@pytest.fixture(params=["memory", "store", "index"])
def source_of(request: pytest.FixtureRequest, tmp_path: Path) -> SourceMaker:
    """Builds the parametrized implementation over a world."""

    def make(world: World) -> LineageSource:
        if request.param == "memory":
            return ObjectSource.in_memory(world.objects, world.refs)
        ws, _ = Workspace.create(tmp_path / "ws")
        ws.objects.fsync = False
        ws.refs.fsync = False
        for oid, obj in world.objects.items():
            assert ws.objects.write(obj) == oid
        for ref, head in world.refs.items():
            ws.refs.update(ref, head)
        return ObjectSource.from_workspace(ws) if request.param == "store" else IndexSource(ws)

    return make
