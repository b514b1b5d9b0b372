"""Recorded text as a terminal may show it: the one function that escapes it.

A recorded argv, path or label is whatever a program or a registry put
there; printed as is, `\\x1b[2K\\r` in an argument erases the line that shows
the real command (and a right-to-left override reorders it). Every command
that prints recorded text passes it through `printable` first; JSON output
needs nothing more (JSON escapes control characters itself).
"""

from __future__ import annotations

import re

# C0 controls and DEL, C1 controls, and the bidirectional overrides and
# isolates that make a line read other than its bytes (CVE-2021-42574).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\e"}


def printable(value: str | bytes) -> str:
    """`value` with every character that could move the cursor, recolour or reorder
    the terminal written as a visible escape (`\\e`, `\\n`, `\\x07`, `\\u202e`);
    bytes that are not UTF-8 become `\\xNN`. A backslash is left as is."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "surrogateescape")
    if value.isascii() and value.isprintable():  # " " to "~": nothing to escape (fast)
        return value
    return _UNSAFE.sub(_escape, value)


def _escape(m: re.Match[str]) -> str:
    c = m.group()
    if c in _NAMED:
        return _NAMED[c]
    code = ord(c)
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
