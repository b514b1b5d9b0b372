"""The user's ed25519 key: their own `~/.ssh/id_ed25519`, or one roar makes.

roar never asks for a passphrase: an encrypted SSH key is skipped in favour
of roar's own key, so signing works in scripts and CI.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from roar.errors import UsageError

KEY_NAME = "id_ed25519"


def config_dir() -> Path:
    """roar's per-user directory ($XDG_CONFIG_HOME/roar, else ~/.config/roar)."""
    from roar.config import user_config_dir

    return user_config_dir()


@dataclass(frozen=True)
class PublicKey:
    """An ssh-ed25519 public key, as one `authorized_keys` line holds it."""

    raw: bytes  # the 32-byte ed25519 key

    @property
    def openssh(self) -> str:
        return "ssh-ed25519 " + base64.b64encode(_ssh_blob(self.raw)).decode()

    @property
    def fingerprint(self) -> str:
        """What `ssh-keygen -lf` prints: SHA256 of the key blob, unpadded base64."""
        digest = hashlib.sha256(_ssh_blob(self.raw)).digest()
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")

    def verify(self, signature: bytes, message: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, message)
        except InvalidSignature:
            return False
        return True

    @classmethod
    def parse(cls, text: str) -> PublicKey:
        """From `ssh-ed25519 AAAA... [comment]`; raises ValueError otherwise."""
        parts = text.strip().split()
        if len(parts) < 2 or parts[0] != "ssh-ed25519":
            raise ValueError("not an ssh-ed25519 public key")
        try:
            blob = base64.b64decode(parts[1], validate=True)
        except ValueError:
            raise ValueError("public key is not valid base64") from None
        prefix = _ssh_string(b"ssh-ed25519")
        if not blob.startswith(prefix) or len(blob) != len(prefix) + 4 + 32:
            raise ValueError("public key blob is not an ed25519 key")
        return cls(blob[-32:])


class SigningKey:
    """A private ed25519 key and where it came from."""

    def __init__(self, private, path: Path):  # type: ignore[no-untyped-def]
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        self._private = private
        self.path = path
        self.public = PublicKey(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)  # type: ignore[no-any-return]


def load_key(*, create: bool = True) -> SigningKey:
    """The user's key: ~/.ssh/id_ed25519 if usable, else roar's own (made on first use)."""
    ssh = Path(os.path.expanduser("~")) / ".ssh" / KEY_NAME
    own = config_dir() / KEY_NAME
    for path in (ssh, own):
        key = _read_private(path)
        if key is not None:
            return SigningKey(key, path)
    if not create:
        raise UsageError(f"no ed25519 key at {ssh} or {own}; run `roar auth key` to create one")
    return SigningKey(_create(own), own)


def _read_private(path: Path):  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_ssh_private_key

    try:
        data = path.read_bytes()
    except (FileNotFoundError, PermissionError):
        return None
    try:
        key = load_ssh_private_key(data, password=None)
    except (ValueError, TypeError):
        return None  # encrypted or not OpenSSH: fall back to roar's own key
    return key if isinstance(key, Ed25519PrivateKey) else None


def _create(path: Path):  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    from roar.atomic import write_atomic

    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption())
    # Created 0600 before any byte is written: a private key is never world-readable.
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.replace(tmp, path)
    public = key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH)
    write_atomic(path.with_suffix(".pub"), public + b" roar\n")
    return key


def _ssh_string(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def _ssh_blob(raw: bytes) -> bytes:
    return _ssh_string(b"ssh-ed25519") + _ssh_string(raw)
