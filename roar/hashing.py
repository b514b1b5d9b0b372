"""Content hashes of files and directories: the one home of the walk rule.

A file is named by the BLAKE3 of its bytes (what `b3sum` prints); a
directory by the id of its `tree` object. Which files a directory holds is
decided by `walk` (docs/lineage.md §8), the same rule as the tracer's
`tracer/src/tree.rs`, both pinned by `tests/vectors/tree-walk/`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from roar.objects.tree import Tree, TreeEntry

STORE_DIR = b".roar"  # roar's own store: never part of an artifact


class Artifact(NamedTuple):
    """What a path holds, by content: `tree` is set for a directory."""

    hash: str  # 64 hex: a file's BLAKE3, or the tree object's id
    size: int  # bytes; a directory's is the sum of its files'
    kind: str  # "file" | "tree"
    tree: Tree | None


def hash_file(path: str | os.PathLike[str]) -> str:
    """BLAKE3 of a file's bytes, hex; memory-mapped and multi-threaded when large.

    Raises OSError when the file cannot be read.
    """
    import blake3

    h = blake3.blake3(max_threads=blake3.blake3.AUTO)
    h.update_mmap(path)
    return h.hexdigest()


def file_digests(
    path: str | os.PathLike[str], algorithms: list[str] | tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    """(algorithm, hex) of a file's md5/sha256/sha512 (hashlib), in one read of the file:
    an artifact's `digests` (docs/object-format.md) for the jobs Python writes (get,
    put). Raises OSError when the file cannot be read."""
    import hashlib

    if not algorithms:
        return ()
    hashers = {a: hashlib.new(a) for a in sorted(set(algorithms))}
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            for h in hashers.values():
                h.update(chunk)
    return tuple((a, h.hexdigest()) for a, h in hashers.items())


def hash_bytes(data: bytes) -> str:
    """BLAKE3 of bytes in memory, hex (a file's hash, when they are its content)."""
    import blake3

    return blake3.blake3(data).hexdigest()


def walk(directory: str | os.PathLike[str]) -> list[tuple[bytes, bytes]]:
    """The files a directory holds: (relative path, absolute path) as bytes, sorted.

    Regular files at any depth, and symlinks to regular files; symlinked
    directories are not followed; dangling links, FIFOs, sockets and devices
    are left out; directories named `.roar` are not entered.
    """
    root = os.fsencode(directory)
    base = root if root.endswith(b"/") else root + b"/"
    found: list[tuple[bytes, bytes]] = []
    stack = [root]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue  # unreadable or vanished: as the tracer, leave it out
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != STORE_DIR:
                        stack.append(entry.path)
                    continue
                if not entry.is_file(follow_symlinks=True):
                    continue
            except OSError:
                continue
            found.append((entry.path[len(base) :], entry.path))
    found.sort()
    return found


def tree_of(directory: str | os.PathLike[str]) -> Tree:
    """The composite artifact of a directory (see `walk`)."""
    entries = [
        TreeEntry(rel, hash_file(os.fsdecode(full)), os.stat(full).st_size)
        for rel, full in walk(directory)
    ]
    return Tree(tuple(entries))


def artifact_of(path: str | os.PathLike[str]) -> Artifact:
    """The artifact at `path`: a file's hash, or a directory's tree.

    Raises OSError when the path cannot be read.
    """
    if os.path.isdir(path):
        tree = tree_of(path)
        return Artifact(tree.id, tree.size, "tree", tree)
    return Artifact(hash_file(path), os.stat(path).st_size, "file", None)


def hash_path(path: str | os.PathLike[str]) -> str:
    """A file's BLAKE3, or a directory's tree id."""
    return artifact_of(path).hash


def hash_matches(path: Path, digest: str) -> bool:
    """Whether the file at `path` holds exactly the bytes named `digest`."""
    try:
        return path.is_file() and hash_file(path) == digest
    except OSError:
        return False
