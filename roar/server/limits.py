"""What one request may cost the registry, bounded before it is paid.

Every route reads its body through `read_body` with its own cap, counting
bytes as they arrive whatever Content-Length claims; every pushed object is
decompressed and decoded under the caps of `Limits` (docs/protocol.md §3.2).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from roar.server.errors import TooLarge

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Caps per request. Served at GET /api/v1 so clients can size what they send."""

    max_pack_bytes: int = 256 * MiB  # a push body, compressed
    max_objects: int = 200_000  # objects in one pack, ids in one negotiation
    max_object_bytes: int = 16 * MiB  # one object, decompressed (header + body)
    max_pack_inflated_bytes: int = 1024 * MiB  # all objects of a pack, decompressed
    max_object_items: int = 1_000_000  # CBOR data items of one object body
    max_pack_items: int = 8_000_000  # CBOR data items of all objects of a pack
    max_json_bytes: int = 32 * MiB  # negotiate and fetch bodies (200,000 ids are 14 MB)
    max_form_bytes: int = 64 * 1024  # accounts, keys, projects, members, web logins

    def to_json(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class Body:
    """A request body, read under a cap, and the SHA-256 of its bytes."""

    data: bytearray
    sha256: bytes


async def read_body(request: Any, limit: int) -> Body:
    """The body, refused with 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"request body is larger than the {limit}-byte limit")
    data = bytearray()
    digest = hashlib.sha256()
    async for chunk in request.stream():
        if len(data) + len(chunk) > limit:
            raise TooLarge(f"request body is larger than the {limit}-byte limit")
        data += chunk
        digest.update(chunk)
    return Body(data, digest.digest())
