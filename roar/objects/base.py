"""What every object kind shares: the header, the id, the registry.

An object is `kind SP len NUL body`; its id is BLAKE3 of those bytes. Each
kind is one class in its own module, owning its body's schema; adding a
kind is one module plus one line in `kind_class` below.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, TypeVar

from roar.errors import CorruptObject
from roar.objects import encoding

MAX_OBJECT_SIZE = 256 * 1024 * 1024
_HEX_ID = re.compile("[0-9a-f]{64}")
ID_LENGTH = 64

T = TypeVar("T", bound="RoarObject")


class RoarObject:
    """Base of all object kinds. Subclasses are frozen dataclasses."""

    kind: ClassVar[str]

    def body(self) -> bytes:
        raise NotImplementedError

    @classmethod
    def from_body(cls: type[T], body: bytes) -> T:
        raise NotImplementedError

    def references(self) -> list[str]:
        """Ids of other objects this one points at (for fsck, gc, push closure)."""
        return []

    def serialize(self) -> bytes:
        return header(self.kind, len(body := self.body())) + body

    @property
    def id(self) -> str:
        return object_id(self.serialize())


class CborObject(RoarObject):
    """A kind whose body is one deterministic-CBOR map."""

    def to_value(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_value(cls: type[T], value: dict[str, Any]) -> T:
        raise NotImplementedError

    def body(self) -> bytes:
        return encoding.encode(self.to_value())

    @classmethod
    def from_body(cls: type[T], body: bytes) -> T:
        return cls.from_decoded(encoding.decode(body))  # type: ignore[attr-defined,no-any-return]

    @classmethod
    def from_decoded(cls: type[T], value: Any) -> T:
        """The object of a decoded body; raises CorruptObject when it misses the schema."""
        if not isinstance(value, dict):
            raise CorruptObject(f"{cls.kind} body is not a map")
        try:
            return cls.from_value(value)  # type: ignore[attr-defined,no-any-return]
        except (KeyError, TypeError, ValueError) as e:
            raise CorruptObject(f"{cls.kind} body does not match its schema: {e!r}") from None


def header(kind: str, length: int) -> bytes:
    return f"{kind} {length}\0".encode("ascii")


def object_id(raw: bytes) -> str:
    import blake3

    return blake3.blake3(raw).hexdigest()


def split_header(raw: bytes) -> tuple[str, bytes]:
    """Return (kind, body) of serialized bytes, checking the header."""
    nul = raw.find(b"\0", 0, 32)
    if nul < 0:
        raise CorruptObject("object header has no terminator")
    try:
        kind, length_text = raw[:nul].decode("ascii").split(" ")
    except (UnicodeDecodeError, ValueError):
        raise CorruptObject("object header is malformed") from None
    if kind not in KIND_NAMES:
        raise CorruptObject(f"unknown object kind {kind!r}")
    if not length_text.isdigit() or (length_text != "0" and length_text[0] == "0"):
        raise CorruptObject("object header length is malformed")
    body = raw[nul + 1 :]
    if int(length_text) != len(body):
        raise CorruptObject(f"object header says {length_text} bytes, body has {len(body)}")
    return kind, body


def parse(raw: bytes) -> RoarObject:
    """Parse serialized bytes (header and body) into an object of its kind."""
    kind, body = split_header(raw)
    return kind_class(kind).from_body(body)


def parse_bounded(raw: bytes, max_items: int) -> tuple[RoarObject, int]:
    """(object, CBOR data items of its body) for bytes from someone else.

    What a registry or a fetch uses: the body may hold at most `max_items`
    items (encoding.decode_counted), refused before they are built.
    """
    kind, body = split_header(raw)
    cls = kind_class(kind)
    if not issubclass(cls, CborObject):
        return cls.from_body(body), 0
    value, items = encoding.decode_counted(body, max_items=max_items)
    return cls.from_decoded(value), items


def is_id(text: str) -> bool:
    return len(text) == ID_LENGTH and _HEX_ID.fullmatch(text) is not None


def check_id(text: Any, what: str = "id") -> str:
    if not isinstance(text, str) or not is_id(text):
        raise ValueError(f"{what} is not a 64-character hex id: {text!r}")
    return text


# kind name -> "module:class"; a kind's module is imported the first time an
# object of that kind is parsed (they import this one, and `roar run` only
# ever needs the session kind).
_KIND_CLASSES = {
    "blob": "roar.objects.blob:Blob",
    "tree": "roar.objects.tree:Tree",
    "job": "roar.objects.job:Job",
    "session": "roar.objects.session:Session",
    "label": "roar.objects.label:Label",
    "env": "roar.objects.env:Env",
}
KIND_NAMES = tuple(_KIND_CLASSES)
_KINDS: dict[str, type[RoarObject]] = {}


def kind_class(kind: str) -> type[RoarObject]:
    cls = _KINDS.get(kind)
    if cls is None:
        import importlib

        module, name = _KIND_CLASSES[kind].split(":")
        cls = _KINDS[kind] = getattr(importlib.import_module(module), name)
    return cls
