"""Fetch: the lineage closure of a hash from a remote into the local store.

Nothing from the server is trusted. The pack is spooled to disk under a
size cap as it arrives; every object is decompressed under a size cap,
hashed and parsed under a cap on its CBOR items; the refs header must
parse, hold at most MAX_REFS session refs with valid names, each pointing
at a session object that was received or is already here. Only then is
anything written: one pack file with its index, then the refs. An
interrupted or refused fetch stores nothing.
"""

from __future__ import annotations

import json
import mmap
import tempfile
from dataclasses import dataclass

from roar.errors import CorruptObject, RemoteError, UsageError
from roar.objects import base
from roar.objects.pack import iter_pack, write_pack_files
from roar.refs.refstore import check_ref_name
from roar.remote.client import MAX_FETCH_BYTES, Progress, RemoteClient
from roar.remote.remotes import Remote
from roar.workspace import Workspace

MAX_REFS = 256  # session refs one fetch may create or move
MAX_HAVE = 200_000  # ids sent as `have` (the server's negotiation bound)
MAX_OBJECT_BYTES = 16 * 1024 * 1024  # one fetched object, decompressed (the push limit)
MAX_OBJECT_ITEMS = 1_000_000  # CBOR data items of one fetched object (the push limit)


@dataclass(frozen=True)
class FetchReport:
    received: int
    pack_bytes: int
    refs: list[tuple[str, str]]  # (remote-tracking ref, id)


def fetch(
    ws: Workspace,
    remote: Remote,
    client: RemoteClient,
    want: str,
    *,
    progress: Progress | None = None,
    limit: int = MAX_FETCH_BYTES,
) -> FetchReport:
    have = sorted(ws.objects.all_ids())[:MAX_HAVE]
    ws.objects.pack_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=ws.objects.pack_dir) as spool:
        header = client.fetch(want, have, spool, progress=progress, limit=limit)
        size = spool.tell()
        refs = _parse_refs(remote, header)
        if size == 0:
            raise RemoteError(f"{remote.url} sent an empty answer instead of a pack")
        spool.flush()
        with mmap.mmap(spool.fileno(), 0, access=mmap.ACCESS_READ) as pack:
            kinds = _check_pack(ws, remote, pack)
            _check_targets(ws, remote, refs, kinds)
            if kinds:
                write_pack_files(ws.objects.pack_dir, pack, fsync=ws.objects.fsync)  # type: ignore[arg-type]
    ws.objects.packs(refresh=True)
    moved = []
    # As `git fetch` does: remote-tracking refs only. The workspace's own sessions
    # and HEAD stay as they were, so the next `roar run` never lands on someone
    # else's session.
    for name, target in refs:
        tracking = remote.tracking_ref(name)
        ws.refs.update(tracking, target, message=f"fetch from {remote.url}")
        moved.append((tracking, target))
    return FetchReport(len(kinds), size, moved)


def _parse_refs(remote: Remote, header: str) -> list[tuple[str, str]]:
    """(name, target) of each ref in the Roar-Refs header; RemoteError for anything else."""
    try:
        value = json.loads(header)
    except ValueError:
        raise RemoteError(f"{remote.url} sent an unparsable Roar-Refs header") from None
    if not isinstance(value, list):
        raise RemoteError(f"{remote.url} sent a Roar-Refs header that is not a list")
    if len(value) > MAX_REFS:
        raise RemoteError(f"{remote.url} sent {len(value)} refs; a fetch takes at most {MAX_REFS}")
    out: dict[str, str] = {}
    for ref in value:
        name = ref.get("name") if isinstance(ref, dict) else None
        target = ref.get("target") if isinstance(ref, dict) else None
        if not isinstance(name, str) or not isinstance(target, str) or not base.is_id(target):
            raise RemoteError(f"{remote.url} sent a malformed ref: {str(ref)[:100]!r}")
        try:
            check_ref_name(f"refs/{name}")
            if not name.startswith("sessions/"):
                raise UsageError(name)
            check_ref_name(remote.tracking_ref(name))
        except UsageError:
            raise RemoteError(f"{remote.url} sent a ref with a bad name: {name[:100]!r}") from None
        if out.get(name, target) != target:
            raise RemoteError(f"{remote.url} sent two targets for ref {name}")
        out[name] = target
    return list(out.items())


def _check_pack(ws: Workspace, remote: Remote, pack: mmap.mmap) -> dict[str, str]:
    """Every object of the pack checked; id -> kind."""
    kinds: dict[str, str] = {}
    try:
        for _, entry in iter_pack(pack, copy=False):
            raw = ws.objects.decompress(entry.frame, entry.id, limit=MAX_OBJECT_BYTES)
            if base.object_id(raw) != entry.id:
                raise CorruptObject(f"object {entry.id} hashes to another id")
            obj, _ = base.parse_bounded(raw, MAX_OBJECT_ITEMS)
            kinds[entry.id] = obj.kind
    except CorruptObject as e:
        raise RemoteError(f"{remote.url} sent a bad pack: {e}") from None
    return kinds


def _check_targets(
    ws: Workspace, remote: Remote, refs: list[tuple[str, str]], kinds: dict[str, str]
) -> None:
    for name, target in refs:
        kind = kinds.get(target)
        if kind is None and ws.objects.contains(target):
            kind = ws.objects.kind_of(target)
        if kind != "session":
            what = "an object it did not send" if kind is None else f"a {kind}, not a session"
            raise RemoteError(f"{remote.url} sent ref {name} pointing at {what} ({target[:12]})")
