"""Data crossing the workspace boundary: the backends of `roar get` and `roar put`.

A backend moves bytes for one URL scheme (http(s), file, s3) and knows
nothing of jobs; `boundary.py` hashes what moved and records it as a get or
put job. Downloads land under a staging name and are renamed into place,
so a destination never holds half-written content under its final name.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from roar.errors import TransferError

Progress = Callable[[int, int], None]  # (done bytes, total bytes; 0 when unknown)


class Backend(Protocol):
    def download(self, url: str, staging: Path, progress: Progress | None) -> None:
        """Write the content at `url` to `staging` (a file, or a directory for a prefix)."""

    def upload(self, source: Path, url: str, progress: Progress | None) -> None:
        """Store the file or directory `source` at `url`."""


def backend_for(url: str, config: Any = None) -> Backend:
    """The backend for the URL's scheme; `config` is the workspace Config, if any."""
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("http", "https"):
        from roar.transfer.http import HttpBackend

        return HttpBackend()
    if scheme == "file":
        from roar.transfer.local import FileBackend

        return FileBackend()
    if scheme == "s3":
        from roar.transfer.s3 import S3Backend

        return S3Backend.from_config(config)
    raise TransferError(f"unsupported URL {url!r}: roar moves http(s)://, file:// and s3:// URLs")
