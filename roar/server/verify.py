"""Checking a pushed pack before anything of it is stored. Pure: no I/O.

Every object is decompressed under a ceiling taken from its frame's declared
size (itself capped), hashed, and parsed by the same code that reads the
local store, so the server accepts exactly what a roar store would.
"""

from __future__ import annotations

from dataclasses import dataclass

from roar.errors import CorruptObject
from roar.objects import base
from roar.objects.base import RoarObject
from roar.objects.pack import iter_pack


class PackRejected(Exception):
    """The pack, or one object in it, is not acceptable; nothing is stored."""


@dataclass(frozen=True)
class Limits:
    max_pack_bytes: int = 256 * 1024 * 1024
    max_objects: int = 200_000
    max_object_bytes: int = 16 * 1024 * 1024  # decompressed header + body


@dataclass(frozen=True)
class VerifiedObject:
    id: str
    kind: str
    size: int  # decompressed bytes
    frame: bytes
    obj: RoarObject


def decompress_capped(frame: bytes, limit: int, oid: str) -> bytes:
    """The single zstd frame's content, refusing frames that claim or expand past `limit`."""
    import zstandard

    try:
        params = zstandard.get_frame_parameters(frame)
    except zstandard.ZstdError:
        raise PackRejected(f"object {oid}: not a zstd frame") from None
    size = params.content_size
    if size in (zstandard.CONTENTSIZE_UNKNOWN, zstandard.CONTENTSIZE_ERROR) or size == 0:
        raise PackRejected(f"object {oid}: zstd frame does not declare its content size")
    if size > limit:
        raise PackRejected(f"object {oid}: declares {size} bytes, over the {limit}-byte limit")
    decompressor = zstandard.ZstdDecompressor()
    try:
        raw = decompressor.decompress(frame, max_output_size=size)
    except zstandard.ZstdError as e:
        raise PackRejected(f"object {oid}: zstd frame is corrupt ({e})") from None
    if len(raw) != size:
        raise PackRejected(f"object {oid}: frame expands to other than its declared size")
    # decompress() stops after one frame; a second pass finds anything appended.
    stream = decompressor.decompressobj()
    try:
        stream.decompress(frame)
    except zstandard.ZstdError as e:
        raise PackRejected(f"object {oid}: zstd frame is corrupt ({e})") from None
    if stream.unused_data:
        raise PackRejected(f"object {oid}: bytes after the end of its zstd frame")
    return raw


def verify_pack(data: bytes, limits: Limits) -> list[VerifiedObject]:
    """Every object of the pack, each checked; raises PackRejected on the first fault."""
    if len(data) > limits.max_pack_bytes:
        raise PackRejected(f"pack is larger than the {limits.max_pack_bytes}-byte limit")
    verified = []
    try:
        for _, entry in iter_pack(data, max_count=limits.max_objects):
            raw = decompress_capped(entry.frame, limits.max_object_bytes, entry.id)
            if base.object_id(raw) != entry.id:
                raise PackRejected(f"object {entry.id}: content hashes to another id")
            try:
                kind, _ = base.split_header(raw)
                obj = base.parse(raw)
            except CorruptObject as e:
                raise PackRejected(f"object {entry.id}: {e}") from None
            verified.append(VerifiedObject(entry.id, kind, len(raw), entry.frame, obj))
    except CorruptObject as e:
        raise PackRejected(str(e)) from None
    return verified


def unresolved_references(objs: list[VerifiedObject]) -> set[str]:
    """Ids the pack's objects point at that the pack itself does not hold."""
    held = {o.id for o in objs}
    return {r for o in objs for r in o.obj.references() if r not in held}
