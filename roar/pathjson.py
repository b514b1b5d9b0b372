"""Paths in JSON: the one form for paths that are bytes, in every JSON roar writes.

A path (Linux: any bytes but NUL) that is valid UTF-8 is a JSON string; any
other is `{"hex": "<lowercase hex of its bytes>"}`, which every JSON reader
can take back to the exact bytes. The tracer's report uses the same form
(docs/tracer.md); so do `--json` outputs, the registry's API and its pages.
"""

from __future__ import annotations

from typing import Any


def to_json(path: bytes) -> str | dict[str, str]:
    try:
        return path.decode("utf-8")
    except UnicodeDecodeError:
        return {"hex": path.hex()}


def from_json(value: Any) -> bytes:
    """The bytes of a path written by to_json (or by the tracer's report)."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, dict) and isinstance(value.get("hex"), str):
        return bytes.fromhex(value["hex"])
    raise ValueError(f"not a path: {value!r}")


def jsonable(value: Any) -> Any:
    """`value` with every path in the one form: bytes become to_json(bytes),
    and a str holding surrogate escapes (what os.fsdecode makes of bytes
    that are not UTF-8) becomes to_json of its bytes. Other values unchanged."""
    if isinstance(value, bytes):
        return to_json(value)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return to_json(value.encode("utf-8", "surrogateescape"))
        return value
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value
