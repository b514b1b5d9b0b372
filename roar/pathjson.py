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
