"""The ref lock: `<ref>.lock` created exclusively, then renamed over the ref.

A lock held longer than STALE_AFTER belonged to a process that was killed
(an update holds it for microseconds); it is broken by renaming it aside,
so its owner's final rename fails and that owner retries.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from roar.errors import RefConflict

STALE_AFTER = 10.0
WAIT_LIMIT = 30.0


class RefLock:
    def __init__(self, ref_path: Path):
        self.ref_path = ref_path
        self.path = ref_path.with_name(ref_path.name + ".lock")
        self.fd: int | None = None

    def acquire(self) -> None:
        deadline = time.monotonic() + WAIT_LIMIT
        delay = 0.0005
        self.ref_path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
                return
            except FileExistsError:
                self._break_if_stale()
            if time.monotonic() > deadline:
                raise RefConflict(
                    f"{self.path} is held by another roar process; if none is running, remove it"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def _break_if_stale(self) -> None:
        try:
            age = time.time() - os.stat(self.path).st_mtime
        except FileNotFoundError:
            return
        if age > STALE_AFTER:
            aside = self.path.with_name(f"{self.path.name}.stale.{os.getpid()}.{os.urandom(4).hex()}")
            try:
                os.rename(self.path, aside)
                os.unlink(aside)
            except FileNotFoundError:
                pass

    def commit(self, data: bytes, *, fsync: bool = True) -> None:
        """Write `data` into the lock and rename it over the ref."""
        assert self.fd is not None
        fd, self.fd = self.fd, None
        try:
            os.write(fd, data)
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.rename(self.path, self.ref_path)
        except FileNotFoundError:
            raise RefConflict(f"lock on {self.ref_path.name} was broken while held") from None

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
