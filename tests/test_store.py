"""The object store: idempotent atomic writes, verified reads, packs, prefixes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from roar.errors import CorruptObject, NotFound
from roar.fsck import fsck
from roar.gc import gc
from roar.objects.blob import Blob
from roar.objects.env import Env
from roar.objects.job import ArtifactRef, Job
from roar.objects.label import Label
from roar.objects.session import Session
from roar.objects.tree import Tree, TreeEntry
from roar.workspace import Workspace

H = "ea8f163db38682925e4491c5e58d4bb3506ef8c14eb78a86e908c5624a67200f"


def one_of_each_kind(ws: Workspace) -> list[str]:
    """Write a small connected history: a session whose job points at a tree and env."""
    store = ws.objects
    tree = store.write(Tree.of([TreeEntry(b"a.bin", H, 5), TreeEntry(b"b.bin", H, 5)]))
    env = store.write(Env(os={"system": "Linux"}, cpu={"model": "x", "cores": 2}, memory=1))
    patch = store.write(Blob(b"--- a\n+++ b\n"))
    job = store.write(
        Job(
            type="run",
            argv=(b"python", b"train.py"),
            cwd=b"/w",
            started_ns=1,
            ended_ns=2,
            exit_code=0,
            inputs=(ArtifactRef(b"/w/data", tree, 10, "tree"),),
            outputs=(ArtifactRef(b"/w/model.pt", H, 5),),
            context={"env": env, "git": {"patch": patch}},
        )
    )
    session = store.write(Session(None, job, 1, "run", 3))
    label = store.write(Label(H, {"accuracy": "0.9"}, None, 4))
    ws.refs.update("refs/sessions/main", session, None)
    ws.refs.update(f"refs/labels/{H}", label, None)
    return [tree, env, patch, job, session, label]


def loose_path(ws: Workspace, oid: str) -> Path:
    return ws.objects.root / oid[:2] / oid[2:]


def test_write_is_idempotent_and_read_returns_the_object(workspace: Workspace) -> None:
    blob = Blob(b"hello")
    first = workspace.objects.write(blob)
    mtime = loose_path(workspace, first).stat().st_mtime_ns
    assert workspace.objects.write(blob) == first
    assert loose_path(workspace, first).stat().st_mtime_ns == mtime
    assert workspace.objects.read(first) == blob


def test_loose_object_is_a_zstd_frame_of_header_and_body(workspace: Workspace) -> None:
    import zstandard

    oid = workspace.objects.write(Blob(b"hello"))
    raw = zstandard.ZstdDecompressor().decompress(loose_path(workspace, oid).read_bytes())
    assert raw == b"blob 5\0hello"


def test_every_flipped_byte_of_every_kind_is_caught_by_read_and_fsck(workspace: Workspace) -> None:
    # The object is its bytes (header and body): flip each one, store the
    # damaged bytes under the original id, and every read must refuse them.
    store = workspace.objects
    for oid in one_of_each_kind(workspace):
        path = loose_path(workspace, oid)
        original = path.read_bytes()
        raw = store.read_raw(oid)
        for i in range(len(raw)):
            damaged = bytearray(raw)
            damaged[i] ^= 0x01
            path.write_bytes(store.compress(bytes(damaged)))
            with pytest.raises(CorruptObject, match=oid):
                store.read(oid)
        report = fsck(workspace)
        assert not report.ok and any(oid in p for p in report.problems)
        path.write_bytes(original)
    assert fsck(workspace).ok


def test_a_flipped_byte_of_the_compressed_file_never_reads_as_other_content(
    workspace: Workspace,
) -> None:
    # Some bits of a zstd frame (entropy-table padding) do not change what it
    # decodes to; such a flip is harmless. Every other flip must be refused.
    store = workspace.objects
    for oid in one_of_each_kind(workspace):
        path = loose_path(workspace, oid)
        original = path.read_bytes()
        expected = store.read(oid)
        for i in range(len(original)):
            damaged = bytearray(original)
            damaged[i] ^= 0x01
            path.write_bytes(bytes(damaged))
            try:
                assert store.read(oid) == expected
            except CorruptObject as e:
                assert oid in str(e)
        path.write_bytes(original)


def test_missing_object(workspace: Workspace) -> None:
    with pytest.raises(NotFound):
        workspace.objects.read("0" * 64)


def test_gc_packs_everything_and_loses_nothing(workspace: Workspace) -> None:
    ids = one_of_each_kind(workspace)
    before = {oid: workspace.objects.read(oid) for oid in ids}
    report = gc(workspace)
    assert report.loose_removed == len(ids)
    assert list(workspace.objects.loose_ids()) == []
    fresh = Workspace(workspace.root)
    for oid, obj in before.items():
        assert fresh.objects.read(oid) == obj
        assert fresh.objects.contains(oid)
    assert fsck(fresh).ok
    extra = fresh.objects.write(Blob(b"after gc"))
    gc(fresh)
    again = Workspace(workspace.root)
    assert len(again.objects.packs()) == 1
    assert again.objects.read(extra) == Blob(b"after gc")


def test_flipped_byte_in_a_pack_is_caught(workspace: Workspace) -> None:
    ids = one_of_each_kind(workspace)
    before = {oid: workspace.objects.read(oid) for oid in ids}
    gc(workspace)
    (pack,) = workspace.objects.pack_dir.glob("*.pack")
    data = bytearray(pack.read_bytes())
    data[len(data) // 2] ^= 0x01
    pack.write_bytes(bytes(data))
    fresh = Workspace(workspace.root)
    assert not fsck(fresh).ok  # the pack's trailer no longer matches
    for oid in ids:  # and no read returns other content than was written
        try:
            assert fresh.objects.read(oid) == before[oid]
        except CorruptObject as e:
            assert oid in str(e)


def test_interrupted_write_leaves_only_a_temporary_file(workspace: Workspace) -> None:
    directory = workspace.objects.root / "ab"
    directory.mkdir()
    (directory / ".tmp-cdef.123.0000").write_bytes(b"partial")
    report = fsck(workspace)
    assert report.ok and any("temporary" in w for w in report.warnings)
    assert list(workspace.objects.loose_ids()) == []


def test_fsck_reports_a_ref_to_a_missing_object(workspace: Workspace) -> None:
    ids = one_of_each_kind(workspace)
    os.unlink(loose_path(workspace, ids[1]))  # the env the job points at
    report = fsck(workspace)
    assert not report.ok
    assert any(ids[1] in p and "missing" in p for p in report.problems)
