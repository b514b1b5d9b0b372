"""Labels as porcelain: the current set of a target, and changing it.

Each change writes a new `label` object holding the full set, chained to
the previous one; `refs/labels/<target>` points at the newest. The CLI
(`roar label`), `roar run -n NAME` and the roar-cli import all write
labels through here.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from roar.errors import RefConflict, UsageError
from roar.workspace import Workspace

LabelValue = str | int | bool


def current(ws: Workspace, target: str) -> tuple[str | None, Any]:
    """(head id, label object or None) of `target`'s labels."""
    head = ws.refs.read(f"refs/labels/{target}")
    return head, (ws.objects.read(head) if head else None)


def current_labels(ws: Workspace, target: str) -> dict[str, LabelValue]:
    _, obj = current(ws, target)
    return dict(obj.labels) if obj else {}


def write(
    ws: Workspace, target: str, labels: dict[str, LabelValue], time_ns: int | None = None
) -> str:
    """Make `labels` the full set of `target`'s labels (compare-and-swap, retried)."""
    from roar.objects.label import Label

    while True:
        head, _ = current(ws, target)
        oid = ws.objects.write(Label(target, labels, head, time_ns or time.time_ns()))
        try:
            ws.refs.update(f"refs/labels/{target}", oid, head, "label")
            return str(oid)
        except RefConflict:
            continue


def update(ws: Workspace, target: str, changes: dict[str, LabelValue]) -> dict[str, LabelValue]:
    """Set some labels of `target`, keeping the others; returns the new full set."""
    labels = {**current_labels(ws, target), **changes}
    write(ws, target, labels)
    return labels


def parse_pair(pair: str) -> tuple[str, LabelValue]:
    """`key=value` as typed: true/false are booleans, digits integers, the rest text."""
    key, eq, value = pair.partition("=")
    if not eq or not key:
        raise UsageError(f"labels look like key=value, not {pair!r}")
    if value in ("true", "false"):
        return key, value == "true"
    if value.lstrip("-").isdigit():
        return key, int(value)
    return key, value


def stamp(ws: Workspace) -> str:
    """Where every label set stands, as one digest (of each `refs/labels/` ref and the
    label object it points at): any label change, on any target, changes it. An answer
    kept because nothing it shows changed (`roar dag`'s) is kept with it. "" when no
    target has labels."""
    text = "\n".join(f"{name} {head}" for name, head in ws.refs.list("refs/labels/").items())
    if not text:
        return ""
    import hashlib

    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def labels_of(ws: Workspace, targets: Iterable[str]) -> dict[str, dict[str, LabelValue]]:
    """The current labels of each of `targets` that has any (one listing of the label refs)."""
    wanted = set(targets)
    out: dict[str, dict[str, LabelValue]] = {}
    for name, head in ws.refs.list("refs/labels/").items():
        target = name.removeprefix("refs/labels/")
        if target in wanted:
            out[target] = dict(ws.objects.read(head).labels)
    return out
