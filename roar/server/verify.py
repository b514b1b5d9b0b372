"""Checking a pushed pack before anything of it is stored. Pure: no I/O.

Every object is decompressed under a ceiling taken from its frame's declared
size (itself capped), hashed, and parsed by the same code that reads the
local store, under caps on CBOR data items per object and per pack, so the
server accepts exactly what a roar store would, at a cost bounded before it
is paid. Each parsed object is reduced to its index record and dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from roar.errors import CorruptObject
from roar.objects import base, encoding
from roar.objects.pack import iter_pack
from roar.server.errors import PackRejected
from roar.server.indexing import Record, record_of
from roar.server.limits import Limits


@dataclass(frozen=True)
class CheckedObject:
    id: str
    kind: str
    size: int  # decompressed bytes
    frame: memoryview  # a slice of the pushed body, not a copy
    references: tuple[str, ...]
    record: Record


def decompress_capped(frame: bytes | memoryview, limit: int, oid: str) -> bytes:
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


def parse_stored(frame: bytes | memoryview, oid: str, limits: Limits) -> base.RoarObject:
    """An object read back from the registry's table, under the same caps as a push.

    Its canonical encoding, id and kind were checked when it was pushed
    (`check_pack`); reading it back keeps the size and item caps (a damaged
    row must not cost unbounded memory) but does not re-encode it to compare,
    which was two thirds of the cost of a page that reads 250 jobs.
    """
    import cbor2

    raw = decompress_capped(frame, limits.max_object_bytes, oid)
    try:
        kind, body = base.split_header(raw)
        cls = base.kind_class(kind)
        if not issubclass(cls, base.CborObject):
            return cls.from_body(body)
        if len(body) > limits.max_object_items:
            encoding.count_items(body, limits.max_object_items)
        return cls.from_decoded(cbor2.loads(body))
    except (CorruptObject, cbor2.CBORDecodeError) as e:
        raise PackRejected(f"object {oid}: {e}") from None


def check_pack(
    data: bytes | bytearray | memoryview, limits: Limits, now_ns: int
) -> list[CheckedObject]:
    """Every object of the pack, each checked; raises PackRejected on the first fault."""
    if len(data) > limits.max_pack_bytes:
        raise PackRejected(f"pack is larger than the {limits.max_pack_bytes}-byte limit")
    return list(_check(memoryview(data), limits, now_ns))


def _check(view: memoryview, limits: Limits, now_ns: int) -> Iterator[CheckedObject]:
    inflated = 0
    items_left = limits.max_pack_items
    try:
        for _, entry in iter_pack(view, max_count=limits.max_objects, copy=False):
            raw = decompress_capped(entry.frame, limits.max_object_bytes, entry.id)
            inflated += len(raw)
            if inflated > limits.max_pack_inflated_bytes:
                raise PackRejected(
                    f"pack decompresses to more than {limits.max_pack_inflated_bytes} bytes"
                )
            if base.object_id(raw) != entry.id:
                raise PackRejected(f"object {entry.id}: content hashes to another id")
            try:
                kind, _ = base.split_header(raw)
                obj, items = base.parse_bounded(raw, limits.max_object_items)
            except CorruptObject as e:
                raise PackRejected(f"object {entry.id}: {e}") from None
            items_left -= items
            if items_left < 0:
                raise PackRejected(f"pack holds more than {limits.max_pack_items} CBOR items")
            record = record_of(entry.id, obj, now_ns)
            yield CheckedObject(
                entry.id, kind, len(raw), entry.frame, tuple(obj.references()), record
            )
            del obj, raw
    except CorruptObject as e:
        raise PackRejected(str(e)) from None


def unresolved_references(objs: list[CheckedObject]) -> set[str]:
    """Ids the pack's objects point at that the pack itself does not hold."""
    held = {o.id for o in objs}
    return {r for o in objs for r in o.references if r not in held}
