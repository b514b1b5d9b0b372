"""Printing: rich on a terminal, plain text otherwise, JSON when asked.

NO_COLOR and --no-color are honoured; errors are one line on stderr.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any


def color_enabled() -> bool:
    return "NO_COLOR" not in os.environ and sys.stdout.isatty()


def console(stderr: bool = False):  # type: ignore[no-untyped-def]
    from rich.console import Console

    return Console(stderr=stderr, no_color=not color_enabled(), highlight=False, soft_wrap=True)


def error(message: str) -> None:
    if "NO_COLOR" not in os.environ and sys.stderr.isatty():
        sys.stderr.write(f"\x1b[31merror:\x1b[0m {message}\n")
    else:
        sys.stderr.write(f"error: {message}\n")


def warn(message: str) -> None:
    sys.stderr.write(f"warning: {message}\n")


def print_json(value: Any) -> None:
    """`value` as `json_text` prints it."""
    sys.stdout.write(json_text(value))


def json_text(value: Any) -> str:
    """`value` as indented JSON and a newline, exactly as `json.dumps(value, indent=2)`
    writes it (ASCII, `\\uXXXX` escapes); paths (bytes, or text that os.fsdecode made of
    bytes that are not UTF-8) in the one form of roar/pathjson.py. Not-a-number and the
    infinities (not JSON, and never in roar's values) are written `null`."""
    fast = _orjson_text(value)
    if fast is not None:
        return fast
    return json.dumps(_plain_or_jsonable(value), indent=2, sort_keys=False) + "\n"


# Python's json writes a float below 1e-4 in exponent form (1e-05) where orjson writes
# 0.00001 or 1e-5: a line of orjson's indented output that holds one such number, found
# from where its text must occur (bytes.find: a regex alternation scans ten times slower).
_SMALL_NEEDLES = (b"e-", b"0.0000")
_SMALL_NUMBER_LINE = re.compile(
    rb' *(?:"(?:[^"\\]|\\.)*": )?-?(?:0\.0000[0-9]*|[0-9]+(?:\.[0-9]+)?e-[0-9]+),?'
)
# What json's ensure_ascii escapes beyond what orjson does: DEL and all non-ASCII
# (a negated class: the range U+007F-U+10FFFF takes ~10 ms to compile, at every start).
_NOT_ASCII = re.compile("[^\x00-\x7e]")


def _orjson_text(value: Any) -> str | None:
    """`json_text` of `value` by orjson's encoder (a 10,000-step `dag --json`, 15 MB, in
    ~50 ms where json's indenting encoder, pure Python, takes over a second), or None
    where it would differ: `value` holds anything but str, int (64-bit), float, bool,
    None, list, tuple and dict with str keys (bytes and non-UTF-8 text included: those
    are pathjson's), or a float below 1e-4. (orjson also writes an enum or a UUID,
    which json refuses; no command passes one.)"""
    import orjson

    try:
        out = orjson.dumps(
            value,
            option=orjson.OPT_INDENT_2
            | orjson.OPT_PASSTHROUGH_DATACLASS
            | orjson.OPT_PASSTHROUGH_DATETIME
            | orjson.OPT_PASSTHROUGH_SUBCLASS,
        )
    except TypeError:  # orjson.JSONEncodeError is one
        return None
    if any(_small_number(out, needle) for needle in _SMALL_NEEDLES):
        return None
    text = out.decode("utf-8")
    if not out.isascii() or b"\x7f" in out:  # only ever inside strings: escaped in place
        text = _NOT_ASCII.sub(_ascii_escape, text)
    return text + "\n"


def _small_number(out: bytes, needle: bytes) -> bool:
    at = out.find(needle)
    while at >= 0:
        start = out.rfind(b"\n", 0, at) + 1
        end = out.find(b"\n", at)
        end = len(out) if end < 0 else end
        if _SMALL_NUMBER_LINE.fullmatch(out, start, end):
            return True
        at = out.find(needle, end)
    return False


def _ascii_escape(m: re.Match[str]) -> str:
    """json's `\\uXXXX` for one character, as a UTF-16 surrogate pair beyond U+FFFF."""
    n = ord(m.group())
    if n < 0x10000:
        return f"\\u{n:04x}"
    n -= 0x10000
    return f"\\u{0xD800 | (n >> 10):04x}\\u{0xDC00 | (n & 0x3FF):04x}"


def _plain_or_jsonable(value: Any) -> Any:
    """`value` itself when it holds no path to convert (checked by C's compact encoder,
    ~0.2 s for a 10,000-step `dag --json`, where walking it in Python costs twice that),
    else roar/pathjson.py's walk of it."""
    from roar.pathjson import jsonable

    try:
        compact = json.dumps(value, ensure_ascii=False, default=_refuse)
    except (TypeError, ValueError):
        return jsonable(value)  # bytes somewhere
    if any("\udc80" <= c <= "\udcff" for c in _surrogates(compact)):
        return jsonable(value)  # text os.fsdecode made of bytes that are not UTF-8
    return value


def _surrogates(text: str) -> str:
    import re

    return "".join(re.findall("[\ud800-\udfff]", text))


def _refuse(value: Any) -> Any:
    raise TypeError(type(value).__name__)
