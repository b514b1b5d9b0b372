"""Request signatures in the style of HTTP Message Signatures (RFC 9421).

The client signs the method, path and query, a digest of the body, the
scope it acts in, the time and a one-use nonce; the server rebuilds the same
signature base and verifies it. Layout in docs/protocol.md §2.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import time
from dataclasses import dataclass

from roar.identity.keys import PublicKey, SigningKey

LABEL = "roar"
COMPONENTS = ("@method", "@path", "@query", "content-digest", "roar-scope")
MAX_SKEW_S = 300


class SignatureInvalid(Exception):
    """The request's signature is missing a part, malformed, stale or wrong."""


@dataclass(frozen=True)
class SignedRequest:
    """What the server needs to check a signature, taken from the HTTP request."""

    method: str
    path: str
    query: str  # without the leading '?'
    body: bytes
    headers: dict[str, str]  # lower-case names


@dataclass(frozen=True)
class Verified:
    key: PublicKey
    created: int
    nonce: str
    scope: str


def content_digest(body: bytes) -> str:
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def _params(created: int, nonce: str, keyid: str) -> str:
    names = " ".join(f'"{c}"' for c in COMPONENTS)
    return f'({names});created={created};nonce="{nonce}";keyid="{keyid}";alg="ed25519"'


def _base(method: str, path: str, query: str, digest: str, scope: str, params: str) -> bytes:
    values = (method.upper(), path, "?" + query, digest, scope)
    lines = [f'"{c}": {v}' for c, v in zip(COMPONENTS, values, strict=False)]
    lines.append(f'"@signature-params": {params}')
    return "\n".join(lines).encode()


def sign_headers(
    key: SigningKey,
    method: str,
    path: str,
    query: str,
    body: bytes,
    scope: str,
    *,
    created: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers that sign this request."""
    created = int(time.time()) if created is None else created
    nonce = nonce or os.urandom(16).hex()
    digest = content_digest(body)
    params = _params(created, nonce, key.public.fingerprint)
    signature = key.sign(_base(method, path, query, digest, scope, params))
    return {
        "Content-Digest": digest,
        "Roar-Scope": scope,
        "Roar-Key": key.public.openssh,
        "Signature-Input": f"{LABEL}={params}",
        "Signature": f"{LABEL}=:{base64.b64encode(signature).decode()}:",
    }


_INPUT = re.compile(
    r'^roar=\((?P<names>[^)]*)\);created=(?P<created>\d{1,12});nonce="(?P<nonce>[0-9a-f]{16,64})"'
    r';keyid="(?P<keyid>[A-Za-z0-9+/:]{1,80})";alg="ed25519"$'
)
_SIG = re.compile(r"^roar=:(?P<sig>[A-Za-z0-9+/=]{1,200}):$")


def is_signed(headers: dict[str, str]) -> bool:
    return "signature" in headers or "signature-input" in headers


def verify(req: SignedRequest, *, now: float | None = None) -> Verified:
    """Check the signature; raises SignatureInvalid. Replay is the caller's check (nonce)."""
    h = req.headers
    for name in ("signature", "signature-input", "roar-key", "content-digest", "roar-scope"):
        if name not in h:
            raise SignatureInvalid(f"missing {name} header")
    m = _INPUT.match(h["signature-input"])
    s = _SIG.match(h["signature"])
    if not m or not s:
        raise SignatureInvalid("malformed Signature-Input or Signature header")
    if m["names"] != " ".join(f'"{c}"' for c in COMPONENTS):
        raise SignatureInvalid("signature does not cover the required components")
    try:
        key = PublicKey.parse(h["roar-key"])
    except ValueError as e:
        raise SignatureInvalid(f"Roar-Key: {e}") from None
    if key.fingerprint != m["keyid"]:
        raise SignatureInvalid("keyid does not match Roar-Key")
    if h["content-digest"] != content_digest(req.body):
        raise SignatureInvalid("body does not match Content-Digest")
    created = int(m["created"])
    if abs((time.time() if now is None else now) - created) > MAX_SKEW_S:
        raise SignatureInvalid("signature is stale (created more than 5 minutes away)")
    params = _params(created, m["nonce"], m["keyid"])
    base = _base(req.method, req.path, req.query, h["content-digest"], h["roar-scope"], params)
    if not key.verify(base64.b64decode(s["sig"]), base):
        raise SignatureInvalid("signature does not verify")
    return Verified(key, created, m["nonce"], h["roar-scope"])
