"""fsck: verify every object and every ref, and that refs reach whole histories.

Read-only. A problem is something a read would fail on (a corrupt or
missing object, a damaged ref); a warning is harmless debris a kill -9 can
leave (a temporary file, a stale lock) that gc clears.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from roar.atomic import is_temporary
from roar.errors import RoarError
from roar.workspace import Workspace


@dataclass
class FsckReport:
    objects: int = 0
    refs: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def fsck(ws: Workspace) -> FsckReport:
    report = FsckReport()
    store = ws.objects
    good: dict[str, list[str]] = {}  # id -> its references
    for oid in sorted(store.all_ids()):
        report.objects += 1
        try:
            good[oid] = store.read(oid).references()
        except RoarError as e:
            report.problems.append(str(e))
    _check_packs(ws, report)
    _check_debris(ws, report)

    roots: list[tuple[str, str]] = []
    try:
        target = ws.refs.head_target()
        if not target.startswith("refs/sessions/"):
            report.problems.append(f"HEAD names {target}, which is not a session")
    except RoarError as e:
        report.problems.append(str(e))
    refs_dir = ws.dir / "refs"
    for dirpath, _, files in os.walk(refs_dir):
        for f in files:
            name = os.path.relpath(os.path.join(dirpath, f), ws.dir)
            if f.endswith(".lock") or ".lock." in f:
                report.warnings.append(
                    f"leftover lock {name} (its holder died; the next update takes it over)"
                )
                continue
            report.refs += 1
            try:
                value = ws.refs.read(name)
            except RoarError as e:
                report.problems.append(str(e))
                continue
            if value is not None:
                roots.append((name, value))

    for name, oid in roots:
        seen: set[str] = set()
        todo = [oid]
        while todo:
            cur = todo.pop()
            if cur in seen:
                continue
            seen.add(cur)
            if cur not in good:
                if not store.contains(cur):
                    report.problems.append(f"{name} reaches missing object {cur}")
                continue
            todo.extend(good[cur])
    return report


def _check_packs(ws: Workspace, report: FsckReport) -> None:
    from roar.objects.pack import iter_pack

    pack_dir = ws.objects.pack_dir
    if not pack_dir.is_dir():
        return
    for name in sorted(os.listdir(pack_dir)):
        if not name.endswith(".pack") or is_temporary(name):
            continue
        try:
            with open(pack_dir / name, "rb") as f:
                for _ in iter_pack(f.read()):
                    pass
        except RoarError as e:
            report.problems.append(f"pack {name}: {e}")


def _check_debris(ws: Workspace, report: FsckReport) -> None:
    for dirpath, _, files in os.walk(ws.dir / "objects"):
        for f in files:
            if is_temporary(f):
                report.warnings.append(
                    f"leftover temporary file {os.path.relpath(os.path.join(dirpath, f), ws.dir)}"
                )
