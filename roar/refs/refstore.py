"""RefStore: read, compare-and-swap, list and log the refs under `.roar/`.

Refs are text files holding an object id (or, for HEAD, `ref: <name>`).
Every update goes through RefLock and appends a reflog line.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from roar.errors import CorruptObject, RefConflict, UsageError
from roar.objects.base import is_id
from roar.refs.lock import RefLock

ZERO_ID = "0" * 64
HEAD = "HEAD"
SESSIONS = "refs/sessions/"
LABELS = "refs/labels/"
REMOTES = "refs/remotes/"


# What fixes a damaged HEAD, said wherever one is met (every session stays under its ref).
HEAD_REPAIR = "`roar reset -y` points it at a new session (every session is kept)"


class _Any:
    pass


ANY = _Any()  # "don't check the old value"


class ReflogEntry(NamedTuple):
    old: str | None
    new: str | None
    time_ns: int
    message: str


class RefStore:
    def __init__(self, roar_dir: Path, *, fsync: bool = True):
        self.root = Path(roar_dir)
        self.fsync = fsync

    def _path(self, name: str) -> Path:
        check_ref_name(name)
        return self.root / name

    # -- HEAD ------------------------------------------------------------

    def head_target(self) -> str:
        """The ref HEAD names, e.g. `refs/sessions/main`."""
        try:
            text = (self.root / HEAD).read_text().strip()
        except FileNotFoundError:
            raise CorruptObject(f"{self.root / HEAD} is missing; {HEAD_REPAIR}") from None
        if not text.startswith("ref: "):
            shown = text if len(text) <= 80 else text[:80] + "..."
            raise CorruptObject(f"HEAD does not name a ref: {shown!r}; {HEAD_REPAIR}")
        return text[5:]

    def set_head(self, target: str) -> None:
        check_ref_name(target)
        lock = RefLock(self.root / HEAD)
        lock.acquire()
        try:
            lock.commit(f"ref: {target}\n".encode(), fsync=self.fsync)
        finally:
            lock.release()

    # -- refs ------------------------------------------------------------

    def read(self, name: str) -> str | None:
        try:
            text = self._path(name).read_text()
        except (FileNotFoundError, IsADirectoryError):
            return None
        value = text.strip()
        if not is_id(value) or text != value + "\n":
            raise CorruptObject(f"ref {name} is damaged: {text[:80]!r}")
        return value

    def update(self, name: str, new: str, old: str | None | _Any = ANY, message: str = "") -> None:
        """Point `name` at `new` if it still points at `old` (None: must not exist)."""
        if not is_id(new):
            raise ValueError(f"not an object id: {new!r}")
        self._swap(name, new, old, message)

    def delete(self, name: str, old: str | None | _Any = ANY, message: str = "") -> None:
        self._swap(name, None, old, message)

    def _swap(self, name: str, new: str | None, old: str | None | _Any, message: str) -> None:
        path = self._path(name)
        lock = RefLock(path)
        lock.acquire()
        try:
            current = self.read(name)
            if not isinstance(old, _Any) and current != old:
                raise RefConflict(f"ref {name} moved: expected {old}, found {current}")
            self._append_log(name, current, new, message)
            if new is None:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
            else:
                lock.commit(f"{new}\n".encode(), fsync=self.fsync)
        finally:
            lock.release()

    def list(self, prefix: str = "refs/") -> dict[str, str]:
        """All refs under `prefix`, name -> id."""
        result: dict[str, str] = {}
        base = self.root / prefix.rstrip("/")
        if not base.is_dir():
            return result
        for dirpath, _, files in os.walk(base):
            for f in files:
                if f.endswith(".lock") or ".lock." in f:
                    continue
                name = os.path.relpath(os.path.join(dirpath, f), self.root)
                value = self.read(name)
                if value is not None:
                    result[name] = value
        return dict(sorted(result.items()))

    # -- reflog ----------------------------------------------------------

    def _log_path(self, name: str) -> Path:
        return self.root / "logs" / name

    def _append_log(self, name: str, old: str | None, new: str | None, message: str) -> None:
        path = self._log_path(name)
        line = (
            f"{old or ZERO_ID} {new or ZERO_ID} {time.time_ns()} {message.replace(chr(10), ' ')}\n"
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, line.encode())  # one O_APPEND write: lines never interleave
        finally:
            os.close(fd)

    def reflog(self, name: str) -> Iterator[ReflogEntry]:
        try:
            text = self._log_path(name).read_text()
        except FileNotFoundError:
            return
        for line in text.splitlines():
            parts = line.split(" ", 3)
            if len(parts) < 3:
                continue  # a line torn by a kill -9: skip, the reflog is advisory
            old, new, ns = parts[:3]
            yield ReflogEntry(
                None if old == ZERO_ID else old,
                None if new == ZERO_ID else new,
                int(ns) if ns.isdigit() else 0,
                parts[3] if len(parts) > 3 else "",
            )


# A ref is a file under .roar/: each part of its name must fit a file name
# (NAME_MAX, 255 bytes on Linux and macOS) and the whole a path, checked before
# the name reaches the file system (a longer one is "File name too long" there).
MAX_REF_PART = 255
MAX_REF_NAME = 1024


def check_ref_name(name: str) -> None:
    """Refuse (UsageError) a name that is not a valid ref: `HEAD` or `refs/<a>/<b>...`
    with no empty, `.`-leading or `.lock` part, no space, tab, newline, NUL, `\\`
    or `:`, each part at most MAX_REF_PART bytes and the whole at most MAX_REF_NAME."""
    if len(name) > MAX_REF_NAME or len(name.encode("utf-8", "surrogateescape")) > MAX_REF_NAME:
        raise UsageError(f"invalid ref name: {name[:40]!r}... (longer than {MAX_REF_NAME} bytes)")
    parts = name.split("/")
    if any(len(p.encode("utf-8", "surrogateescape")) > MAX_REF_PART for p in parts):
        raise UsageError(f"invalid ref name: a part is longer than {MAX_REF_PART} bytes")
    if (
        name != HEAD
        and (parts[0] != "refs" or len(parts) < 3)
        or any(p in ("", ".", "..") or p.endswith(".lock") or p.startswith(".") for p in parts)
        or any(c in name for c in " \t\n\0\\:")
    ):
        raise UsageError(f"invalid ref name: {name!r}")
