"""Deterministic CBOR, restricted as docs/object-format.md §2 says.

cbor2 does the encoding; this module only guards the value space on the
way in and proves canonical form on the way out (decode, re-encode,
compare), so a body has exactly one byte representation.
"""

from __future__ import annotations

from typing import Any

from roar.errors import CorruptObject

_MIN_INT = -(2**64)
_MAX_INT = 2**64 - 1


def encode(value: Any) -> bytes:
    """Encode `value` canonically; raises ValueError for anything outside the subset."""
    import cbor2

    _check(value)
    return cbor2.dumps(value, canonical=True)


def decode(data: bytes) -> Any:
    """Decode canonical bytes; raises CorruptObject when they are not canonical."""
    import cbor2

    try:
        value = cbor2.loads(data)
    except Exception as e:  # cbor2 raises several types, all mean "malformed"
        raise CorruptObject(f"malformed CBOR: {e}") from None
    try:
        _check(value)
    except ValueError as e:
        raise CorruptObject(str(e)) from None
    if cbor2.dumps(value, canonical=True) != data:
        raise CorruptObject("body is not in deterministic encoding")
    return value


def _check(value: Any) -> None:
    # Iterative walk: bodies can be deep (nested trees of metadata) and big.
    stack = [value]
    while stack:
        v = stack.pop()
        if v is None or v is True or v is False or isinstance(v, (bytes, str)):
            continue
        if type(v) is int:
            if not _MIN_INT <= v <= _MAX_INT:
                raise ValueError(f"integer out of range: {v}")
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
        elif isinstance(v, dict):
            for k in v:
                if not isinstance(k, str):
                    raise ValueError(f"map key is not a text string: {k!r}")
            stack.extend(v.values())
        else:
            raise ValueError(f"value not allowed in an object body: {type(v).__name__}")
