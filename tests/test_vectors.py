"""The shared vectors pin the object format; these checks are its Python half."""

from __future__ import annotations

import json
from pathlib import Path

import blake3
import pytest

from roar.objects import base, encoding

VECTORS = json.loads((Path(__file__).parent / "vectors" / "objects.json").read_text())["vectors"]


def from_json(value):  # type: ignore[no-untyped-def]
    if isinstance(value, dict):
        if set(value) == {"$bytes"}:
            return bytes.fromhex(value["$bytes"])
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector_encodes_to_its_bytes_and_id(vector: dict) -> None:
    value = from_json(vector["value"])
    body = value if vector["kind"] == "blob" else encoding.encode(value)
    raw = base.header(vector["kind"], len(body)) + body
    assert raw.hex() == vector["object_hex"]
    assert blake3.blake3(raw).hexdigest() == vector["id"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector_parses_into_its_kind_and_back(vector: dict) -> None:
    raw = bytes.fromhex(vector["object_hex"])
    obj = base.parse(raw)
    assert obj.kind == vector["kind"]
    assert obj.serialize() == raw
    assert obj.id == vector["id"]


def test_hand_written_tree_bytes() -> None:
    # Ground truth written out by hand from RFC 8949, independent of cbor2:
    # {"entries": [[h'61', "<H>", 5]]}
    digest = "ea8f163db38682925e4491c5e58d4bb3506ef8c14eb78a86e908c5624a67200f"
    body = (
        bytes([0xA1, 0x67])
        + b"entries"
        + bytes([0x81, 0x83, 0x41])
        + b"a"
        + bytes([0x78, 0x40])
        + digest.encode()
        + bytes([0x05])
    )
    from roar.objects.tree import Tree, TreeEntry

    tree = Tree.of([TreeEntry(b"a", digest, 5)])
    assert tree.body() == body
    assert tree.serialize() == b"tree %d\0" % len(body) + body


def test_map_keys_sort_by_length_then_bytes() -> None:
    assert encoding.encode({"bb": 1, "c": 2, "a": 3}) == bytes.fromhex("a361610361630262626201")


def test_tree_walk_vector(tmp_path: Path) -> None:
    """The one walk rule (docs/lineage.md §8): what a directory's tree holds."""
    from vectors.tree_walk import VECTOR, materialize

    from roar.hashing import hash_path, tree_of

    vector = json.loads(VECTOR.read_text())
    directory = materialize(tmp_path / "tree-walk")
    tree = tree_of(directory)
    # Written out by hand: no .roar/ at any depth, the link to a file but not the
    # link to a directory, nothing for the dangling link, the FIFO or the empty dir.
    assert [e.path for e in tree.entries] == [
        b".hidden", b"B.txt", b"a.txt", b"caf\xe9.txt", b"empty-file", b"link-to-a",
        b"nested/kept.txt", b"sub/b.bin", b"sub/deeper/c.txt",
    ]  # fmt: skip
    assert tree.entries[2].hash == blake3.blake3(b"alpha\n").hexdigest()
    assert tree.entries[5].hash == tree.entries[2].hash
    assert [[e.path.hex(), e.hash, e.size] for e in tree.entries] == [
        [e["path"]["$bytes"], e["hash"], e["size"]] for e in vector["entries"]
    ]
    assert tree.id == vector["tree"] == hash_path(directory)
