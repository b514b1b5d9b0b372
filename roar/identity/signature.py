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
    digest: str  # the Content-Digest the signature covers; the body must match it
    base: bytes  # the signed bytes, which a key-possession proof signs too

    def body_matches(self, sha256: bytes) -> bool:
        """Whether a body with this SHA-256 is the one that was signed."""
        return self.digest == _digest_header(sha256)


def content_digest(body: bytes) -> str:
    return _digest_header(hashlib.sha256(body).digest())


def _digest_header(sha256: bytes) -> str:
    return "sha-256=:" + base64.b64encode(sha256).decode() + ":"


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
    cosigner: SigningKey | None = None,
) -> dict[str, str]:
    """The headers that sign this request.

    `cosigner` also signs the same signature base (`Roar-Key-Proof`): how a
    key being added to an account proves its holder made the request.
    """
    created = int(time.time()) if created is None else created
    nonce = nonce or os.urandom(16).hex()
    digest = content_digest(body)
    params = _params(created, nonce, key.public.fingerprint)
    base = _base(method, path, query, digest, scope, params)
    headers = {
        "Content-Digest": digest,
        "Roar-Scope": scope,
        "Roar-Key": key.public.openssh,
        "Signature-Input": f"{LABEL}={params}",
        "Signature": _sig_header(key.sign(base)),
    }
    if cosigner is not None:
        headers[PROOF_HEADER] = _sig_header(cosigner.sign(base))
    return headers


def _sig_header(signature: bytes) -> str:
    return f"{LABEL}=:{base64.b64encode(signature).decode()}:"


_INPUT = re.compile(
    r'^roar=\((?P<names>[^)]*)\);created=(?P<created>\d{1,12});nonce="(?P<nonce>[0-9a-f]{16,64})"'
    r';keyid="(?P<keyid>[A-Za-z0-9+/:]{1,80})";alg="ed25519"$'
)
_SIG = re.compile(r"^roar=:(?P<sig>[A-Za-z0-9+/]{86}==):$")  # 64 bytes, padded base64
PROOF_HEADER = "Roar-Key-Proof"
# Every header whose value the server acts on: each must appear at most once.
SIGNED_HEADERS = (
    "signature",
    "signature-input",
    "roar-key",
    "content-digest",
    "roar-scope",
    PROOF_HEADER.lower(),
)


def is_signed(headers: dict[str, str]) -> bool:
    return "signature" in headers or "signature-input" in headers


def verify(req: SignedRequest, *, now: float | None = None) -> Verified:
    """Check the signature and the body; raises SignatureInvalid. Replay is the caller's check."""
    ok = verify_headers(req.method, req.path, req.query, req.headers, now=now)
    if ok.digest != content_digest(req.body):
        raise SignatureInvalid("body does not match Content-Digest")
    return ok


def signature_bytes(value: str) -> bytes:
    """The 64 signature bytes of a `roar=:<base64>:` header value; raises SignatureInvalid."""
    s = _SIG.match(value)
    if not s:
        raise SignatureInvalid("malformed signature header (roar=:<base64 of 64 bytes>:)")
    return base64.b64decode(s["sig"], validate=True)


def verify_headers(
    method: str, path: str, query: str, headers: dict[str, str], *, now: float | None = None
) -> Verified:
    """Check a signature from the headers alone, before any of the body is read.

    The signature covers the body's claimed Content-Digest; the caller
    compares the body with `Verified.digest` as it reads it.
    """
    h = headers
    for name in ("signature", "signature-input", "roar-key", "content-digest", "roar-scope"):
        if name not in h:
            raise SignatureInvalid(f"missing {name} header")
    m = _INPUT.match(h["signature-input"])
    if not m:
        raise SignatureInvalid("malformed Signature-Input header")
    signature = signature_bytes(h["signature"])
    if m["names"] != " ".join(f'"{c}"' for c in COMPONENTS):
        raise SignatureInvalid("signature does not cover the required components")
    try:
        key = PublicKey.parse(h["roar-key"])
    except ValueError as e:
        raise SignatureInvalid(f"Roar-Key: {e}") from None
    if key.fingerprint != m["keyid"]:
        raise SignatureInvalid("keyid does not match Roar-Key")
    if not _DIGEST.match(h["content-digest"]):
        raise SignatureInvalid("malformed Content-Digest header")
    created = int(m["created"])
    if abs((time.time() if now is None else now) - created) > MAX_SKEW_S:
        raise SignatureInvalid("signature is stale (created more than 5 minutes away)")
    params = _params(created, m["nonce"], m["keyid"])
    base = _base(method, path, query, h["content-digest"], h["roar-scope"], params)
    if not key.verify(signature, base):
        raise SignatureInvalid("signature does not verify")
    return Verified(key, created, m["nonce"], h["roar-scope"], h["content-digest"], base)


_DIGEST = re.compile(r"^sha-256=:[A-Za-z0-9+/]{43}=:$")
