"""Deterministic CBOR, restricted as docs/object-format.md §2 says.

cbor2 does the encoding; this module only guards the value space on the
way in and proves canonical form on the way out (decode, re-encode,
compare), so a body has exactly one byte representation. Decoding is
bounded: nesting always, the number of data items when the caller says
(a registry, a fetch), so a small body cannot cost gigabytes to parse.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from roar.errors import CorruptObject

_MIN_INT = -(2**64)
_MAX_INT = 2**64 - 1
MAX_DEPTH = 64  # containers inside containers; roar's own bodies nest under 8


def encode(value: Any) -> bytes:
    """Encode `value` canonically; raises ValueError for anything outside the subset."""
    import cbor2

    _check(value)
    return cbor2.dumps(value, canonical=True)


def decode(data: bytes, *, max_items: int | None = None) -> Any:
    """Decode canonical bytes; raises CorruptObject when they are not canonical.

    `max_items` bounds the data items (every scalar, string, array and map
    counts one) before any is built; see `decode_counted`.
    """
    return decode_counted(data, max_items=max_items)[0]


def decode_counted(data: bytes, *, max_items: int | None = None) -> tuple[Any, int]:
    """(value, number of data items). Raises CorruptObject past `max_items` or MAX_DEPTH.

    Every item takes at least one byte, so a body no longer than `max_items`
    cannot exceed it and decodes directly; a longer one is walked first
    (heads only, nothing built), which refuses a 1 KB zstd frame of 15
    million empty maps before it costs gigabytes.
    """
    import cbor2

    if max_items is not None and len(data) > max_items:
        count_items(data, max_items)
    try:
        value = cbor2.loads(data)
    except Exception as e:  # cbor2 raises several types, all mean "malformed"
        raise CorruptObject(f"malformed CBOR: {e}") from None
    try:
        items = _check(value)
    except ValueError as e:
        raise CorruptObject(str(e)) from None
    if max_items is not None and items > max_items:
        raise CorruptObject(f"body holds {items} CBOR items, over the limit of {max_items}")
    if cbor2.dumps(value, canonical=True) != data:
        raise CorruptObject("body is not in deterministic encoding")
    return value, items


def count_items(data: bytes, max_items: int, max_depth: int = MAX_DEPTH) -> int:
    """The number of data items of one CBOR item, from its heads alone.

    Raises CorruptObject past `max_items` or `max_depth`, for a length that
    runs past the end, and for what deterministic encoding excludes anyway
    (indefinite lengths, tags), so nothing is built for a hostile body.
    """
    n = len(data)
    pos = items = 0
    pending = [1]  # items still to read in each open container
    while pending:
        if pending[-1] == 0:
            pending.pop()
            continue
        pending[-1] -= 1
        if pos >= n:
            raise CorruptObject("malformed CBOR: truncated")
        head = data[pos]
        pos += 1
        major, info = head >> 5, head & 31
        if info < 24:
            arg = info
        elif info < 28:
            width = 1 << (info - 24)
            arg = int.from_bytes(data[pos : pos + width], "big")
            pos += width
        else:
            raise CorruptObject("malformed CBOR: indefinite length or reserved value")
        items += 1
        if items > max_items:
            raise CorruptObject(f"body holds more than {max_items} CBOR items")
        if major in (2, 3):
            pos += arg
        elif major in (4, 5):
            arg *= major - 3  # a map holds key and value
            if arg > n - pos:
                raise CorruptObject("malformed CBOR: container runs past the end")
            if arg:
                if len(pending) > max_depth:
                    raise CorruptObject(f"body nests deeper than {max_depth} containers")
                pending.append(arg)
        elif major == 6:
            raise CorruptObject("CBOR tags are not allowed in an object body")
    if pos > n:
        raise CorruptObject("malformed CBOR: truncated")
    return items


def _check(value: Any) -> int:
    """Refuse values outside the subset; the number of data items (map keys included)."""
    # Iterative walk: bodies can be deep (nested trees of metadata) and big.
    # Only containers go on the stack; scalars are checked where they are met.
    _scalar(value)
    stack = [(value, 0)] if isinstance(value, (list, tuple, dict)) else []
    items = 1
    while stack:
        v, depth = stack.pop()
        if depth >= MAX_DEPTH:
            raise ValueError(f"body nests deeper than {MAX_DEPTH} containers")
        children: Iterable[Any] = v
        if isinstance(v, dict):
            for k in v:
                if not isinstance(k, str):
                    raise ValueError(f"map key is not a text string: {k!r}")
            items += len(v)
            children = v.values()
        for x in children:
            items += 1
            if isinstance(x, (list, tuple, dict)):
                stack.append((x, depth + 1))
            else:
                _scalar(x)
    return items


def _scalar(v: Any) -> None:
    if v is None or v is True or v is False or isinstance(v, (bytes, str, list, tuple, dict)):
        return
    if type(v) is int:
        if not _MIN_INT <= v <= _MAX_INT:
            raise ValueError(f"integer out of range: {v}")
        return
    raise ValueError(f"value not allowed in an object body: {type(v).__name__}")
