"""s3:// URLs through boto3 (the `s3` extra), for AWS and S3-compatible stores.

`s3.endpoint_url` (or AWS_ENDPOINT_URL) points it at MinIO, Ceph, R2...;
credentials come from boto3's usual chain. A URL ending in `/` is a prefix:
downloading it fetches every object under it as a directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from roar.errors import TransferError
from roar.transfer import Progress


def split_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if not parts.netloc:
        raise TransferError(f"s3 URL has no bucket: {url}")
    return parts.netloc, parts.path.lstrip("/")


@dataclass
class S3Backend:
    endpoint_url: str | None = None
    region: str | None = None

    @classmethod
    def from_config(cls, config: Any) -> S3Backend:
        if config is None:
            return cls()
        return cls(str(config.get("s3.endpoint_url")) or None, str(config.get("s3.region")) or None)

    def _client(self) -> Any:
        try:
            import boto3
        except ModuleNotFoundError:
            raise TransferError("s3:// needs boto3: pip install 'roar[s3]'") from None
        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self.region)

    def download(self, url: str, staging: Path, progress: Progress | None) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, key = split_url(url)
        client = self._client()
        try:
            if key and not key.endswith("/"):
                size = client.head_object(Bucket=bucket, Key=key)["ContentLength"]
                client.download_file(bucket, key, str(staging), Callback=_counter(progress, size))
                return
            objects = [
                o
                for page in client.get_paginator("list_objects_v2").paginate(
                    Bucket=bucket, Prefix=key
                )
                for o in page.get("Contents", [])
                if not o["Key"].endswith("/")
            ]
            if not objects:
                raise TransferError(f"{url} holds no objects")
            count = _counter(progress, sum(o["Size"] for o in objects))
            for o in objects:
                dest = staging / o["Key"][len(key) :]
                dest.parent.mkdir(parents=True, exist_ok=True)
                client.download_file(bucket, o["Key"], str(dest), Callback=count)
        except (BotoCoreError, ClientError) as e:
            raise TransferError(f"cannot download {url}: {e}") from None

    def upload(self, source: Path, url: str, progress: Progress | None) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, key = split_url(url)
        client = self._client()
        files = sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else [source]
        count = _counter(progress, sum(p.stat().st_size for p in files))
        try:
            for path in files:
                name = (
                    key
                    if not source.is_dir()
                    else (key.rstrip("/") + "/" + path.relative_to(source).as_posix()).lstrip("/")
                )
                client.upload_file(str(path), bucket, name, Callback=count)
        except (BotoCoreError, ClientError) as e:
            raise TransferError(f"cannot upload to {url}: {e}") from None


def _counter(progress: Progress | None, total: int):  # type: ignore[no-untyped-def]
    done = 0

    def add(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, total)

    return add
