"""Label: the full set of user labels on a target after one change.

`refs/labels/<target>` points at the newest; the parent chain is history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from roar.objects.base import CborObject, check_id

LabelValue = str | int | bool


@dataclass(frozen=True)
class Label(CborObject):
    kind = "label"
    target: str
    labels: dict[str, LabelValue] = field(hash=False)
    parent: str | None
    time_ns: int

    def __post_init__(self) -> None:
        if type(self.time_ns) is not int:
            raise ValueError("time_ns must be an integer")
        for k, v in self.labels.items():
            if not isinstance(k, str) or not isinstance(v, (str, int, bool)):
                raise ValueError(f"label {k!r} must map text to text, integer or boolean")

    def references(self) -> list[str]:
        return [self.parent] if self.parent else []

    def to_value(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "labels": dict(self.labels),
            "parent": self.parent,
            "time_ns": self.time_ns,
        }

    @classmethod
    def from_value(cls, v: dict[str, Any]) -> Label:
        return cls(
            target=check_id(v["target"], "target"),
            labels=dict(v["labels"]),
            parent=None if v["parent"] is None else check_id(v["parent"], "parent"),
            time_ns=v["time_ns"],
        )
