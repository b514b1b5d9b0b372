"""Packs: many objects in one file, with a sorted index for lookup.

The same bytes are the unit of transfer to and from a GLaaS registry.
Layout in docs/object-format.md §5; all integers are big-endian.
"""

from __future__ import annotations

import bisect
import mmap
import os
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from roar.errors import CorruptObject

PACK_MAGIC = b"RPCK"
INDEX_MAGIC = b"RIDX"
VERSION = 1
_HEAD = struct.Struct(">4sII")
_ENTRY = struct.Struct(">32sI")
_RECORD = struct.Struct(">32sQI")
_FANOUT = struct.Struct(">256I")
TRAILER_SIZE = 32


def _blake3(data: bytes | memoryview) -> bytes:
    import blake3

    return blake3.blake3(data).digest()


class PackEntry(NamedTuple):
    id: str
    frame: bytes  # zstd frame of header || body (a memoryview from iter_pack(copy=False))


def encode_pack(entries: Iterable[PackEntry]) -> bytes:
    """Serialize entries (deduplicated, sorted by id) into pack bytes."""
    unique = {e.id: e for e in entries}
    parts = [_HEAD.pack(PACK_MAGIC, VERSION, len(unique))]
    for oid in sorted(unique):
        frame = unique[oid].frame
        parts.append(_ENTRY.pack(bytes.fromhex(oid), len(frame)))
        parts.append(frame)
    data = b"".join(parts)
    return data + _blake3(data)


def pack_stream(count: int, entries: Iterable[tuple[str, bytes]]) -> Iterator[bytes]:
    """The bytes of `encode_pack` for `count` entries already sorted by id, piece by piece.

    For sending a pack too large to build in memory; the trailer is hashed
    as the pieces go. Raises ValueError when the entries are not `count`
    distinct ids in ascending order.
    """
    import blake3

    hasher = blake3.blake3()
    head = _HEAD.pack(PACK_MAGIC, VERSION, count)
    hasher.update(head)
    yield head
    previous, seen = "", 0
    for oid, frame in entries:
        if oid <= previous:
            raise ValueError("pack entries must be distinct and sorted by id")
        previous, seen = oid, seen + 1
        piece = _ENTRY.pack(bytes.fromhex(oid), len(frame)) + frame
        hasher.update(piece)
        yield piece
    if seen != count:
        raise ValueError(f"pack header says {count} entries, {seen} were given")
    yield hasher.digest()


def iter_pack(
    data: bytes | bytearray | memoryview, *, max_count: int | None = None, copy: bool = True
) -> Iterator[tuple[int, PackEntry]]:
    """Yield (offset, entry) from pack bytes after checking magic and trailer.

    Object ids are not verified here (that needs decompression); the caller
    checks each object as it reads it. With `copy=False` each frame is a
    memoryview into `data`, so a large pack is not held twice.
    """
    view = memoryview(data)
    if len(view) < _HEAD.size + TRAILER_SIZE:
        raise CorruptObject("pack is truncated")
    magic, version, count = _HEAD.unpack_from(view)
    if magic != PACK_MAGIC or version != VERSION:
        raise CorruptObject("not a roar pack (bad magic or version)")
    if _blake3(view[:-TRAILER_SIZE]) != bytes(view[-TRAILER_SIZE:]):
        raise CorruptObject("pack trailer does not match its contents (truncated or damaged)")
    if max_count is not None and count > max_count:
        raise CorruptObject(f"pack holds {count} objects, more than the limit {max_count}")
    end = len(view) - TRAILER_SIZE
    pos = _HEAD.size
    previous = b""
    for _ in range(count):
        if pos + _ENTRY.size > end:
            raise CorruptObject("pack entry runs past the end of the pack")
        raw_id, length = _ENTRY.unpack_from(view, pos)
        if raw_id <= previous:
            raise CorruptObject("pack entries are not sorted by id")
        previous = raw_id
        start = pos + _ENTRY.size
        if start + length > end:
            raise CorruptObject("pack entry runs past the end of the pack")
        frame = view[start : start + length]
        yield pos, PackEntry(raw_id.hex(), bytes(frame) if copy else frame)  # type: ignore[arg-type]
        pos = start + length
    if pos != end:
        raise CorruptObject("pack has trailing bytes after its last entry")


def encode_index(pack: bytes) -> bytes:
    records = []
    for offset, entry in iter_pack(pack):
        records.append((bytes.fromhex(entry.id), offset, len(entry.frame)))
    fanout = [0] * 256
    for raw_id, _, _ in records:
        fanout[raw_id[0]] += 1
    total = 0
    for i in range(256):
        total += fanout[i]
        fanout[i] = total
    parts = [_HEAD.pack(INDEX_MAGIC, VERSION, len(records)), _FANOUT.pack(*fanout)]
    parts.extend(_RECORD.pack(*r) for r in records)
    parts.append(pack[-TRAILER_SIZE:])
    data = b"".join(parts)
    return data + _blake3(data)


class PackFile:
    """A pack on disk and its index, memory-mapped for lookups."""

    def __init__(self, pack_path: Path):
        self.pack_path = pack_path
        self.index_path = pack_path.with_suffix(".idx")
        with open(self.index_path, "rb") as f:
            self._index = f.read()
        self._check_index()
        with open(pack_path, "rb") as f:
            self._pack = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        _, _, self.count = _HEAD.unpack_from(self._index)
        self._fanout = _FANOUT.unpack_from(self._index, _HEAD.size)
        self._records_at = _HEAD.size + _FANOUT.size
        self._ids = _IdView(self._index, self._records_at, self.count)

    def _check_index(self) -> None:
        idx = self._index
        if len(idx) < _HEAD.size + _FANOUT.size + 2 * TRAILER_SIZE:
            raise CorruptObject(f"pack index {self.index_path.name} is truncated")
        magic, version, count = _HEAD.unpack_from(idx)
        if magic != INDEX_MAGIC or version != VERSION:
            raise CorruptObject(f"{self.index_path.name} is not a roar pack index")
        expected = _HEAD.size + _FANOUT.size + count * _RECORD.size + 2 * TRAILER_SIZE
        if len(idx) != expected or _blake3(idx[:-TRAILER_SIZE]) != idx[-TRAILER_SIZE:]:
            raise CorruptObject(f"pack index {self.index_path.name} is damaged")

    def close(self) -> None:
        self._pack.close()

    def ids(self) -> Iterator[str]:
        for i in range(self.count):
            yield self._ids[i].hex()

    def find(self, oid: str) -> bytes | None:
        """The zstd frame of `oid`, or None when the pack lacks it."""
        raw = bytes.fromhex(oid)
        lo = self._fanout[raw[0] - 1] if raw[0] else 0
        hi = self._fanout[raw[0]]
        i = bisect.bisect_left(self._ids, raw, lo, hi)
        if i >= hi or self._ids[i] != raw:
            return None
        _, offset, length = _RECORD.unpack_from(self._index, self._records_at + i * _RECORD.size)
        start = offset + _ENTRY.size
        return self._pack[start : start + length]

    def ids_with_prefix(self, prefix: str) -> list[str]:
        lo_raw = bytes.fromhex(prefix.ljust(64, "0"))
        i = bisect.bisect_left(self._ids, lo_raw, 0, self.count)
        found = []
        while i < self.count:
            hexid = self._ids[i].hex()
            if not hexid.startswith(prefix):
                break
            found.append(hexid)
            i += 1
        return found


class _IdView:
    """Sequence view of the index's sorted ids, for bisect."""

    def __init__(self, index: bytes, at: int, count: int):
        self._index, self._at, self._count = index, at, count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, i: int) -> bytes:
        start = self._at + i * _RECORD.size
        return self._index[start : start + 32]


def write_pack_files(directory: Path, pack: bytes, *, fsync: bool = True) -> Path:
    """Write pack then index (each atomically); return the pack's path."""
    from roar.atomic import write_atomic

    directory.mkdir(parents=True, exist_ok=True)
    name = f"pack-{pack[-TRAILER_SIZE:].hex()}"
    pack_path = directory / f"{name}.pack"
    write_atomic(pack_path, pack, fsync=fsync)
    write_atomic(directory / f"{name}.idx", encode_index(pack), fsync=fsync)
    return pack_path


def remove_pack(pack_path: Path) -> None:
    # Index first: a pack without an index is ignored, never half-used.
    for p in (pack_path.with_suffix(".idx"), pack_path):
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass
