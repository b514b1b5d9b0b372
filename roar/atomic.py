"""Atomic file writes: the only way roar writes a file in the store.

Write to a temporary file in the same directory, fsync, rename over the
target. A reader sees the old bytes or the new ones, never a mix, and a
`kill -9` at any instant leaves at worst a stray temporary file.
"""

from __future__ import annotations

import os
from pathlib import Path

TMP_PREFIX = ".tmp-"


def write_atomic(path: Path | str, data: bytes, *, fsync: bool = True) -> None:
    """Replace `path` with `data` atomically (the directory must exist)."""
    path = os.fspath(path)
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f"{TMP_PREFIX}{name}.{os.getpid()}.{os.urandom(4).hex()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if fsync:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        _unlink_quietly(tmp)
        raise
    os.close(fd)
    try:
        os.rename(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise


def is_temporary(name: str) -> bool:
    """True for the names write_atomic leaves behind when interrupted."""
    return name.startswith(TMP_PREFIX)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
