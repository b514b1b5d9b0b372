"""Printing: rich on a terminal, plain text otherwise, JSON when asked.

NO_COLOR and --no-color are honoured; errors are one line on stderr.
"""

from __future__ import annotations

import json
import os
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
    """`value` as indented JSON; paths (bytes, or text that os.fsdecode made of
    bytes that are not UTF-8) in the one form of roar/pathjson.py."""
    sys.stdout.write(json.dumps(_plain_or_jsonable(value), indent=2, sort_keys=False) + "\n")


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
