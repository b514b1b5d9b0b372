"""Who a request comes from, decided before its body costs anything.

The signature headers are checked first: each at most once, well formed,
fresh, verifying over the claimed Content-Digest, with an unused nonce.
Only then is the body read, under the route's cap, and compared with the
digest the signature covers. The server acts on exactly what was verified:
the scope comes from the verified signature, never from a second header.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fastapi.concurrency import run_in_threadpool

from roar.identity.signature import (
    SIGNED_HEADERS,
    SignatureInvalid,
    Verified,
    is_signed,
    verify_headers,
)
from roar.server.errors import Unauthorized
from roar.server.limits import read_body
from roar.server.scope import NOBODY, Caller
from roar.server.storage import Storage


@dataclass(frozen=True)
class Signed:
    caller: Caller
    body: bytearray
    verified: Verified | None  # None: an unsigned read


def signed_headers(request: Any) -> dict[str, str]:
    """The request's headers by lower-case name; a signed header sent twice is refused."""
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        name = name.lower()
        if name in headers and name in SIGNED_HEADERS:
            raise Unauthorized(f"the {name} header appears more than once")
        headers[name] = value
    return headers


def query_bytes(request: Any, name: str) -> bytes | None:
    """The query parameter `name` as the bytes it percent-encodes (the last one sent,
    as Starlette's `query_params` takes), or None when absent or empty. A path
    searched for may be any bytes: `%FF` is byte 0xff, not U+FFFD as a text
    parameter would decode it."""
    # Latin-1 maps each byte to one character and back, so nothing is lost.
    raw = request.scope.get("query_string", b"").decode("latin-1")
    values = [v for k, v in parse_qsl(raw, encoding="latin-1") if k == name]
    return values[-1].encode("latin-1") if values and values[-1] else None


class Authenticator:
    def __init__(self, storage: Storage):
        self.storage = storage

    async def __call__(self, request: Any, *, required: bool, body_limit: int = 0) -> Signed:
        """The caller and the body (empty when `body_limit` is 0: a route that takes none)."""
        headers = signed_headers(request)
        if not is_signed(headers):
            if required:
                raise Unauthorized("this request must be signed (docs/protocol.md §2)")
            body = (await read_body(request, body_limit)).data if body_limit else bytearray()
            return Signed(NOBODY, body, None)
        try:
            ok = verify_headers(request.method, request.url.path, request.url.query, headers)
        except SignatureInvalid as e:
            raise Unauthorized(f"bad signature: {e}") from None
        fresh = await run_in_threadpool(
            self.storage.accounts.use_nonce, ok.key.fingerprint, ok.nonce, ok.created
        )
        if not fresh:
            raise Unauthorized("replayed request: this signature's nonce was already used")
        if body_limit:
            body = await read_body(request, body_limit)
            data, matches = body.data, ok.body_matches(body.sha256)
        else:
            data, matches = bytearray(), ok.body_matches(_EMPTY_SHA256)
        if not matches:
            raise Unauthorized("bad signature: body does not match Content-Digest")
        caller = await run_in_threadpool(self.storage.accounts.caller, ok.key.fingerprint, ok.scope)
        return Signed(caller, data, ok)


_EMPTY_SHA256 = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
