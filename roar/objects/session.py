"""Session: one step of a session's history, chained to its parent.

A session ref points at the newest of these, as a branch points at a
commit; `roar pop` moves the ref back to the parent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from roar.objects.base import CborObject, check_id

STEP_KINDS = ("run", "build")


@dataclass(frozen=True)
class Session(CborObject):
    kind = "session"
    parent: str | None
    job: str
    step: int
    step_kind: str
    time_ns: int
    supersedes: str | None = None

    def __post_init__(self) -> None:
        if self.step_kind not in STEP_KINDS:
            raise ValueError(f"unknown step kind {self.step_kind!r}")
        if type(self.step) is not int or self.step < 1:
            raise ValueError("step must be a positive integer")
        if type(self.time_ns) is not int:
            raise ValueError("time_ns must be an integer")

    def references(self) -> list[str]:
        return [r for r in (self.parent, self.job, self.supersedes) if r is not None]

    def to_value(self) -> dict[str, Any]:
        return {
            "parent": self.parent,
            "job": self.job,
            "step": self.step,
            "step_kind": self.step_kind,
            "supersedes": self.supersedes,
            "time_ns": self.time_ns,
        }

    @classmethod
    def from_value(cls, v: dict[str, Any]) -> Session:
        return cls(
            parent=None if v["parent"] is None else check_id(v["parent"], "parent"),
            job=check_id(v["job"], "job"),
            step=v["step"],
            step_kind=v["step_kind"],
            time_ns=v["time_ns"],
            supersedes=None if v["supersedes"] is None else check_id(v["supersedes"]),
        )
