"""http(s):// through requests: streamed downloads that resume, PUT uploads.

A download appends to its staging file; a retry after an interruption asks
for the remaining bytes with a Range request and starts over when the
server ignores it (200 instead of 206), so resuming never corrupts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from roar.errors import TransferError
from roar.transfer import Progress

CHUNK = 64 * 1024
TIMEOUT = 60


class HttpBackend:
    def download(self, url: str, staging: Path, progress: Progress | None) -> None:
        import requests

        done = staging.stat().st_size if staging.is_file() else 0
        headers = {"Range": f"bytes={done}-"} if done else {}
        try:
            with requests.get(url, headers=headers, stream=True, timeout=TIMEOUT) as resp:
                if resp.status_code == 416 and done:
                    # The staging file already holds every byte the server has.
                    return
                if resp.status_code >= 400:
                    raise TransferError(f"GET {url} failed: HTTP {resp.status_code} {resp.reason}")
                resumed = resp.status_code == 206
                if not resumed:
                    done = 0
                length = int(resp.headers.get("Content-Length") or 0)
                total = done + length if length else 0
                with open(staging, "ab" if resumed else "wb") as out:
                    for chunk in resp.iter_content(CHUNK):
                        out.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, total)
                    out.flush()
                    os.fsync(out.fileno())
        except requests.RequestException as e:
            raise TransferError(
                f"GET {url} failed: {e.__class__.__name__}; run the same command again to "
                "resume the download"
            ) from None
        if total and done != total:
            raise TransferError(f"GET {url} ended after {done} of {total} bytes; run it again")

    def upload(self, source: Path, url: str, progress: Progress | None) -> None:
        if source.is_dir():
            for path in sorted(p for p in source.rglob("*") if p.is_file()):
                rel = path.relative_to(source).as_posix()
                self._put_file(path, url.rstrip("/") + "/" + rel, progress)
        else:
            self._put_file(source, url, progress)

    def _put_file(self, path: Path, url: str, progress: Progress | None) -> None:
        import requests

        size = path.stat().st_size
        try:
            with open(path, "rb") as f:
                resp = requests.put(
                    url,
                    data=_chunks(f, size, progress),
                    headers={"Content-Length": str(size)},
                    timeout=TIMEOUT,
                )
        except requests.RequestException as e:
            raise TransferError(f"PUT {url} failed: {e.__class__.__name__}") from None
        if resp.status_code >= 400:
            raise TransferError(f"PUT {url} failed: HTTP {resp.status_code} {resp.reason}")


def _chunks(f, size: int, progress: Progress | None) -> Iterator[bytes]:  # type: ignore[no-untyped-def]
    done = 0
    while chunk := f.read(CHUNK):
        done += len(chunk)
        if progress:
            progress(done, size)
        yield chunk
