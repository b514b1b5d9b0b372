"""Fetch: the lineage closure of a hash from a remote into the local store.

The whole pack is verified (every object decompressed under its declared
size, hashed, parsed) before it is written, and it is written as one pack
file with its index, so an interrupted fetch stores nothing and a retry
starts clean.
"""

from __future__ import annotations

from dataclasses import dataclass

from roar.errors import CorruptObject, RemoteError
from roar.objects import base
from roar.objects.pack import iter_pack, write_pack_files
from roar.remote.client import Progress, RemoteClient
from roar.remote.remotes import Remote
from roar.workspace import Workspace


@dataclass(frozen=True)
class FetchReport:
    received: int
    pack_bytes: int
    refs: list[tuple[str, str]]  # (local ref, id)
    checked_out: str | None  # the local session ref HEAD now names, if it was switched


def fetch(
    ws: Workspace,
    remote: Remote,
    client: RemoteClient,
    want: str,
    *,
    progress: Progress | None = None,
) -> FetchReport:
    have = sorted(ws.objects.all_ids())
    fetched = client.fetch(want, have, progress=progress)
    count = 0
    try:
        for _, entry in iter_pack(fetched.pack):
            raw = ws.objects.decompress(entry.frame, entry.id)
            if base.object_id(raw) != entry.id:
                raise CorruptObject(f"object {entry.id} hashes to another id")
            base.parse(raw)
            count += 1
    except CorruptObject as e:
        raise RemoteError(f"{remote.url} sent a bad pack: {e}") from None
    if count:
        write_pack_files(ws.objects.pack_dir, fetched.pack, fsync=ws.objects.fsync)
        ws.objects.packs(refresh=True)
    moved, checked_out = [], None
    head_ref = ws.refs.head_target()
    for ref in fetched.refs:
        name, target = ref["name"], ref["target"]
        if not name.startswith("sessions/") or not base.is_id(target):
            continue
        tracking = remote.tracking_ref(name)
        ws.refs.update(tracking, target, message=f"fetch from {remote.url}")
        moved.append((tracking, target))
        local = f"refs/{name}"
        # Like a clone: a session the workspace does not have yet starts at the remote's.
        if ws.refs.read(local) is None:
            ws.refs.update(local, target, None, message=f"fetch from {remote.url}")
            moved.append((local, target))
            if ws.refs.read(head_ref) is None and checked_out is None:
                ws.refs.set_head(local)
                checked_out = local
    return FetchReport(count, len(fetched.pack), moved, checked_out)
