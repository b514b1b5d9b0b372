"""Env: a shared snapshot of the machine and interpreter a job ran on.

One object per distinct environment; jobs point at it from their context,
so a thousand runs on one machine store it once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from roar.objects.base import CborObject


@dataclass(frozen=True)
class Env(CborObject):
    kind = "env"
    os: dict[str, Any] = field(hash=False)
    cpu: dict[str, Any] = field(hash=False)
    memory: int
    gpus: tuple[dict[str, Any], ...] = ()
    python: dict[str, Any] | None = field(default=None, hash=False)
    packages: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        names = [name for name, _ in self.packages]
        if names != sorted(names):
            raise ValueError("env packages must be sorted by name")

    def to_value(self) -> dict[str, Any]:
        return {
            "os": self.os,
            "cpu": self.cpu,
            "memory": self.memory,
            "gpus": list(self.gpus),
            "python": self.python,
            "packages": [[n, v] for n, v in self.packages],
        }

    @classmethod
    def from_value(cls, v: dict[str, Any]) -> Env:
        if not isinstance(v["os"], dict) or not isinstance(v["cpu"], dict):
            raise ValueError("os and cpu must be maps")
        return cls(
            os=v["os"],
            cpu=v["cpu"],
            memory=v["memory"],
            gpus=tuple(v["gpus"]),
            python=v["python"],
            packages=tuple((str(n), str(ver)) for n, ver in v["packages"]),
        )
