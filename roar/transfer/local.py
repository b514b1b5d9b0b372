"""file:// URLs: copies on this machine (a shared disk, a mounted bucket).

Both directions copy into a staging name beside the target and rename it
into place, so a reader of the target never sees a partial copy.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlsplit

from roar.errors import TransferError
from roar.transfer import Progress

CHUNK = 1024 * 1024


def path_of(url: str) -> Path:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise TransferError(f"file:// URL names another host: {url}")
    return Path(unquote(parts.path))


class FileBackend:
    def download(self, url: str, staging: Path, progress: Progress | None) -> None:
        source = path_of(url)
        if not source.exists():
            raise TransferError(f"{url} does not exist")
        _copy(source, staging, progress)

    def upload(self, source: Path, url: str, progress: Progress | None) -> None:
        target = path_of(url)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise TransferError(f"cannot create {target.parent}: {e.strerror}") from None
        staging = target.with_name(f".{target.name}.roar-part-{os.getpid()}")
        try:
            _copy(source, staging, progress)
            if target.is_dir() and source.is_dir():
                shutil.rmtree(target)
            os.replace(staging, target)
        except BaseException:
            _remove(staging)
            raise


def _copy(source: Path, target: Path, progress: Progress | None) -> None:
    _remove(target)
    try:
        if source.is_dir():
            files = sorted(p for p in source.rglob("*") if p.is_file())
            total = sum(p.stat().st_size for p in files)
            done = 0
            for path in files:
                dest = target / path.relative_to(source)
                dest.parent.mkdir(parents=True, exist_ok=True)
                done = _copy_file(path, dest, progress, done, total)
        else:
            _copy_file(source, target, progress, 0, source.stat().st_size)
    except OSError as e:
        _remove(target)
        raise TransferError(f"cannot copy {source}: {e.strerror}") from None


def _copy_file(source: Path, dest: Path, progress: Progress | None, done: int, total: int) -> int:
    with open(source, "rb") as src, open(dest, "wb") as out:
        while chunk := src.read(CHUNK):
            out.write(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
        out.flush()
        os.fsync(out.fileno())
    shutil.copymode(source, dest)
    return done


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
