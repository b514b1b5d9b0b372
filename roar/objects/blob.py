"""Blob: opaque bytes a job points to (the patch of a dirty work tree)."""

from __future__ import annotations

from dataclasses import dataclass

from roar.objects.base import RoarObject


@dataclass(frozen=True)
class Blob(RoarObject):
    kind = "blob"
    data: bytes

    def body(self) -> bytes:
        return self.data

    @classmethod
    def from_body(cls, body: bytes) -> Blob:
        return cls(bytes(body))
