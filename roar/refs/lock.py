"""The ref lock: `<ref>.lock`, held with flock, renamed over the ref to commit.

A lock file appears under its final name already flocked (it is created
under a private name, flocked, then hard-linked into place), so "the file
exists but nobody holds its flock" means exactly "its holder died": a
`kill -9` mid-update. The next updater then takes that lock over instead
of waiting, and the store never needs a human to remove a lock.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from roar.errors import RefConflict

WAIT_LIMIT = 30.0


class RefLock:
    def __init__(self, ref_path: Path):
        self.ref_path = ref_path
        self.path = ref_path.with_name(ref_path.name + ".lock")
        self.fd: int | None = None

    def acquire(self) -> None:
        deadline = time.monotonic() + WAIT_LIMIT
        delay = 0.0002
        while True:
            if self._create() or self._take_over_dead():
                return
            if time.monotonic() > deadline:
                raise RefConflict(f"{self.path} stayed locked for {WAIT_LIMIT:.0f}s")
            time.sleep(delay)
            delay = min(delay * 2, 0.02)

    def _create(self) -> bool:
        private = self.path.with_name(f"{self.path.name}.{os.getpid()}.{os.urandom(4).hex()}")
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        try:
            fd = os.open(private, flags, 0o644)
        except FileNotFoundError:
            self.ref_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(private, flags, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.link(private, self.path)
        except FileExistsError:
            os.close(fd)
            return False
        finally:
            os.unlink(private)
        self.fd = fd
        return True

    def _take_over_dead(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # Flocked: its holder is dead, or it committed after we opened it
            # (then our fd is the ref itself and the name is gone or new).
            if os.fstat(fd).st_ino == os.stat(self.path).st_ino:
                os.ftruncate(fd, 0)
                self.fd = fd
                return True
        except (BlockingIOError, FileNotFoundError):
            pass
        os.close(fd)
        return False

    def commit(self, data: bytes, *, fsync: bool = True) -> None:
        """Write `data` into the lock and rename it over the ref."""
        assert self.fd is not None, "commit without acquire"
        os.pwrite(self.fd, data, 0)
        if fsync:
            os.fsync(self.fd)
        os.rename(self.path, self.ref_path)
        os.close(self.fd)
        self.fd = None

    def release(self) -> None:
        """Give the lock up without changing the ref (no-op after commit)."""
        if self.fd is not None:
            os.unlink(self.path)
            os.close(self.fd)
            self.fd = None
