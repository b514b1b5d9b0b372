"""gc: move loose objects into one pack and clear debris.

Every loose object and every existing pack is repacked into a single new
pack, which is written and indexed before anything is removed; loose
objects are deleted only once they are in the new pack, so a concurrent
writer or a kill -9 at any point loses nothing.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from roar.atomic import is_temporary
from roar.objects.pack import encode_pack, remove_pack, write_pack_files
from roar.workspace import Workspace

DEBRIS_AGE = 3600.0


@dataclass(frozen=True)
class GcReport:
    packed: int
    loose_removed: int
    packs_replaced: int
    debris_removed: int


def gc(ws: Workspace) -> GcReport:
    store = ws.objects
    old_packs = store.packs(refresh=True)
    loose = sorted(store.loose_ids())
    ids = set(loose)
    for pack in old_packs:
        ids.update(pack.ids())
    if not loose and len(old_packs) <= 1:
        return GcReport(len(ids), 0, 0, _clear_debris(ws))
    new_pack = write_pack_files(
        store.pack_dir, encode_pack(store.pack_entries(sorted(ids))), fsync=store.fsync
    )
    replaced = 0
    for pack in old_packs:
        if pack.pack_path != new_pack:
            pack.close()
            remove_pack(pack.pack_path)
            replaced += 1
    for oid in loose:
        try:
            os.unlink(store.root / oid[:2] / oid[2:])
        except FileNotFoundError:
            pass
    for d in {oid[:2] for oid in loose}:
        try:
            os.rmdir(store.root / d)
        except OSError:
            pass  # not empty: a concurrent writer added an object
    store.packs(refresh=True)
    return GcReport(len(ids), len(loose), replaced, _clear_debris(ws))


def _clear_debris(ws: Workspace) -> int:
    removed = 0
    now = time.time()
    for dirpath, _, files in os.walk(ws.dir / "objects"):
        for f in files:
            path = os.path.join(dirpath, f)
            orphan_pack = f.endswith(".pack") and not os.path.exists(path[:-5] + ".idx")
            if is_temporary(f) or orphan_pack:
                try:
                    if now - os.stat(path).st_mtime > DEBRIS_AGE:
                        os.unlink(path)
                        removed += 1
                except FileNotFoundError:
                    pass
    return removed
