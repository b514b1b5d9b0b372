"""fsck: verify every object, pack, ref and derived cache; list every problem found.

Read-only, and never stops at the first problem: each one is reported and
the check goes on. A problem is something a read would fail on (a corrupt
or missing object, a damaged ref or pack) or a derived cache that cannot
be read (the next command that needs it rebuilds it); a warning is
harmless debris a kill -9 can leave (a temporary file, a stale lock) that
gc clears.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field

from roar.atomic import is_temporary
from roar.errors import CorruptObject, RoarError
from roar.objects import base
from roar.objects.pack import encode_index, iter_pack
from roar.objects.store import ObjectStore
from roar.workspace import Workspace

HASH_CACHE_MAGIC = b"RHCACHE1"  # docs/hash-cache.md
STEPS_CACHE_HEADER = "roar-steps 1"  # tracer/src/session.rs


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
    store = ObjectStore(ws.objects.root, repair=False)
    unindexed = _check_packs(store, report)
    good: dict[str, list[str]] = {}  # id -> its references
    for oid in sorted(_ids(store, report) | set(unindexed)):
        report.objects += 1
        try:
            if oid in unindexed and not store.contains(oid):
                raw = store.decompress(unindexed[oid], oid)
                if base.object_id(raw) != oid:
                    raise CorruptObject(
                        f"object {oid} is corrupt: its content hashes to another id"
                    )
                good[oid] = base.parse(raw).references()
            else:
                good[oid] = store.read(oid).references()
        except RoarError as e:
            report.problems.append(str(e))
    _check_debris(ws, report)
    _check_caches(ws, report)

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
                if not store.contains(cur) and cur not in unindexed:
                    report.problems.append(f"{name} reaches missing object {cur}")
                continue
            todo.extend(good[cur])
    return report


def _ids(store: ObjectStore, report: FsckReport) -> set[str]:
    ids = set(store.loose_ids())
    for pack in store.packs(refresh=True):
        try:
            ids.update(pack.ids())
        except RoarError as e:
            report.problems.append(f"pack {pack.pack_path.name}: {e}")
    return ids


def _check_packs(store: ObjectStore, report: FsckReport) -> dict[str, bytes]:
    """Check each pack and its index; returns the frames of packs whose index is
    damaged (the pack itself sound), so their objects are still checked."""
    unindexed: dict[str, bytes] = {}
    if not store.pack_dir.is_dir():
        return unindexed
    for name in sorted(os.listdir(store.pack_dir)):
        if not name.endswith(".pack") or is_temporary(name):
            continue
        path = store.pack_dir / name
        try:
            data = path.read_bytes()
            entries = [entry for _, entry in iter_pack(data)]
        except (RoarError, OSError) as e:
            report.problems.append(f"pack {name}: {e}")
            continue
        index = path.with_suffix(".idx")
        try:
            matches = index.read_bytes() == encode_index(data)
        except FileNotFoundError:
            report.warnings.append(f"pack {name} has no index (ignored; gc removes it)")
            continue
        if not matches:
            report.problems.append(
                f"pack index {index.name} is damaged (the next command that reads the store "
                "rebuilds it from its pack)"
            )
            unindexed.update((e.id, e.frame) for e in entries)
    return unindexed


def _check_debris(ws: Workspace, report: FsckReport) -> None:
    for dirpath, _, files in os.walk(ws.dir / "objects"):
        for f in files:
            if is_temporary(f):
                report.warnings.append(
                    f"leftover temporary file {os.path.relpath(os.path.join(dirpath, f), ws.dir)}"
                )


def _check_caches(ws: Workspace, report: FsckReport) -> None:
    """Derived caches: rebuilt when unreadable, so a damaged one is reported, never used."""

    def damaged(path: object, why: str) -> None:
        rel = os.path.relpath(str(path), ws.root)
        report.problems.append(
            f"derived cache {rel} is unreadable ({why}); the next command that needs it "
            "rebuilds it (or delete it)"
        )

    index = ws.dir / "index.sqlite"
    if index.exists():
        try:
            db = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
            try:
                check = db.execute("PRAGMA quick_check").fetchone()
                if check is None or check[0] != "ok":
                    damaged(index, str(check[0] if check else "no answer"))
            finally:
                db.close()
        except sqlite3.DatabaseError as e:
            damaged(index, str(e))
    hashes = ws.dir / "cache" / "hashes"
    if hashes.exists():
        with open(hashes, "rb") as f:
            if f.read(len(HASH_CACHE_MAGIC)) != HASH_CACHE_MAGIC:
                damaged(hashes, "not a hash cache")
    for dirpath, _, files in os.walk(ws.dir / "cache" / "steps"):
        for f in files:
            path = os.path.join(dirpath, f)
            if f.startswith("."):
                continue  # a write in progress (or interrupted): temporary names start with "."
            with open(path, "rb") as fh:
                first = fh.readline().decode("utf-8", "replace").rstrip("\n")
            if first != STEPS_CACHE_HEADER:
                damaged(path, "not a steps cache")
