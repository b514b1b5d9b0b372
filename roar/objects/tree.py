"""Tree: a composite artifact (a dataset, a sharded checkpoint) as one node.

Its id is the composite's hash: the flattened, sorted list of the files
under the directory with their own hashes and sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from roar.objects.base import CborObject, check_id


@dataclass(frozen=True)
class TreeEntry:
    path: bytes  # relative, '/'-separated
    hash: str
    size: int


@dataclass(frozen=True)
class Tree(CborObject):
    kind = "tree"
    entries: tuple[TreeEntry, ...]

    def __post_init__(self) -> None:
        paths = [e.path for e in self.entries]
        if paths != sorted(set(paths)):
            raise ValueError("tree entries must be sorted by path and unique")
        for p in paths:
            parts = p.split(b"/")
            if not p or p.startswith(b"/") or any(c in (b"", b".", b"..") for c in parts):
                raise ValueError(f"tree entry path is not a clean relative path: {p!r}")

    @classmethod
    def of(cls, entries: list[TreeEntry]) -> Tree:
        return cls(tuple(sorted(entries, key=lambda e: e.path)))

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries)

    def to_value(self) -> dict[str, Any]:
        return {"entries": [[e.path, e.hash, e.size] for e in self.entries]}

    @classmethod
    def from_value(cls, value: dict[str, Any]) -> Tree:
        entries = []
        for path, digest, size in value["entries"]:
            if not isinstance(path, bytes) or type(size) is not int or size < 0:
                raise ValueError("tree entry is not [bytes, hash, size]")
            entries.append(TreeEntry(path, check_id(digest, "entry hash"), size))
        return cls(tuple(entries))
