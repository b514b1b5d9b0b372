"""The object store: loose zstd objects plus packs, every read verified.

Layout under `.roar/objects/`: `xx/yyyy...` loose objects, `pack/` packs.
Writes are atomic and idempotent; a read recomputes the BLAKE3 of the
bytes and names the object when they do not match its id.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from roar.atomic import is_temporary, write_atomic
from roar.errors import CorruptObject, NotFound
from roar.objects import base
from roar.objects.base import MAX_OBJECT_SIZE, RoarObject, object_id, split_header
from roar.objects.pack import PackEntry, PackFile

if TYPE_CHECKING:
    import zstandard

T = TypeVar("T", bound=RoarObject)
_HEADER_MAX = 32


class ObjectStore:
    def __init__(self, root: Path, *, fsync: bool = True, repair: bool = True):
        self.root = Path(root)
        self.pack_dir = self.root / "pack"
        self.fsync = fsync
        # A pack index is derived from its pack: one that cannot be read is
        # rebuilt from the (verified) pack, unless `repair` is off (fsck).
        self.repair = repair
        self.damaged: dict[str, str] = {}  # pack name -> why it is not used
        self._packs: dict[str, PackFile] | None = None
        self._compressor: zstandard.ZstdCompressor | None = None
        self._decompressor: zstandard.ZstdDecompressor | None = None

    # -- writing ---------------------------------------------------------

    def write(self, obj: RoarObject) -> str:
        return self.write_raw(obj.serialize())

    def write_raw(self, raw: bytes) -> str:
        """Store serialized bytes (header and body) after checking they parse."""
        base.parse(raw)
        oid = object_id(raw)
        if not self.contains(oid):
            self._write_loose(oid, self._compress(raw))
        return oid

    def write_frame(self, oid: str, frame: bytes) -> None:
        """Store an already-compressed object whose id the caller has verified."""
        if not self.contains(oid):
            self._write_loose(oid, frame)

    def _write_loose(self, oid: str, frame: bytes) -> None:
        directory = self.root / oid[:2]
        try:
            write_atomic(directory / oid[2:], frame, fsync=self.fsync)
        except FileNotFoundError:
            directory.mkdir(parents=True, exist_ok=True)
            write_atomic(directory / oid[2:], frame, fsync=self.fsync)

    # -- reading ---------------------------------------------------------

    def contains(self, oid: str) -> bool:
        if (self.root / oid[:2] / oid[2:]).exists():
            return True
        return any(p.find(oid) is not None for p in self.packs())

    def read(self, oid: str) -> RoarObject:
        raw = self.read_raw(oid)
        try:
            return base.parse(raw)
        except CorruptObject as e:
            raise CorruptObject(f"object {oid} is corrupt: {e}") from None

    def read_kind(self, oid: str, cls: type[T]) -> T:
        """`oid`, which stored data says is of kind `cls`; CorruptObject when it is not."""
        obj = self.read(oid)
        if not isinstance(obj, cls):
            raise CorruptObject(
                f"object {oid} is a {obj.kind} object, where a {cls.kind} is expected"
            )
        return obj

    def read_raw(self, oid: str) -> bytes:
        """The verified serialized bytes of `oid`."""
        frame = self.read_frame(oid)
        raw = self.decompress(frame, oid)
        if object_id(raw) != oid:
            raise CorruptObject(f"object {oid} is corrupt: its content hashes to another id")
        return raw

    def read_frame(self, oid: str) -> bytes:
        """The stored zstd frame of `oid`, unverified (see read_raw)."""
        if not base.is_id(oid):
            raise NotFound(f"not an object id: {oid!r}")
        try:
            with open(self.root / oid[:2] / oid[2:], "rb") as f:
                return f.read()
        except FileNotFoundError:
            pass
        for pack in self.packs():
            frame = pack.find(oid)
            if frame is not None:
                return frame
        # A concurrent gc may have just moved it into a new pack.
        for pack in self.packs(refresh=True):
            frame = pack.find(oid)
            if frame is not None:
                return frame
        damaged = "".join(f"; pack {n} is unreadable ({why})" for n, why in self.damaged.items())
        raise NotFound(f"object {oid} is not in the store{damaged}")

    def decompress(self, frame: bytes, oid: str = "?", *, limit: int | None = None) -> bytes:
        """The object bytes of a zstd frame, refused past `limit` (default: the store's
        largest object) before anything is decompressed."""
        import zstandard

        if self._decompressor is None:
            self._decompressor = zstandard.ZstdDecompressor()
        try:
            params = zstandard.get_frame_parameters(frame)
        except zstandard.ZstdError:
            raise CorruptObject(f"object {oid} is corrupt: not a zstd frame") from None
        size = params.content_size
        if size in (0, zstandard.CONTENTSIZE_UNKNOWN, zstandard.CONTENTSIZE_ERROR):
            raise CorruptObject(f"object {oid} is corrupt: frame does not declare its size")
        cap = MAX_OBJECT_SIZE + _HEADER_MAX if limit is None else limit
        if size > cap:
            raise CorruptObject(f"object {oid} is larger than the {cap}-byte limit")
        try:
            raw: bytes = self._decompressor.decompress(frame, max_output_size=size)
        except zstandard.ZstdError as e:
            raise CorruptObject(f"object {oid} is corrupt: {e}") from None
        return raw

    def _compress(self, raw: bytes) -> bytes:
        import zstandard

        if self._compressor is None:
            self._compressor = zstandard.ZstdCompressor(level=3, write_content_size=True)
        frame: bytes = self._compressor.compress(raw)
        return frame

    def compress(self, raw: bytes) -> bytes:
        return self._compress(raw)

    def kind_of(self, oid: str) -> str:
        kind, _ = split_header(self.read_raw(oid))
        return kind

    # -- enumeration -----------------------------------------------------

    def loose_ids(self) -> Iterator[str]:
        try:
            fan = os.scandir(self.root)
        except FileNotFoundError:
            return
        with fan:
            for d in fan:
                if len(d.name) != 2 or not d.is_dir():
                    continue
                with os.scandir(d.path) as entries:
                    for e in entries:
                        if not is_temporary(e.name) and base.is_id(d.name + e.name):
                            yield d.name + e.name

    def all_ids(self) -> set[str]:
        ids = set(self.loose_ids())
        for pack in self.packs(refresh=True):
            ids.update(pack.ids())
        return ids

    # -- packs -----------------------------------------------------------

    def packs(self, *, refresh: bool = False) -> list[PackFile]:
        if self._packs is None or refresh:
            current: dict[str, PackFile] = {}
            try:
                names = sorted(os.listdir(self.pack_dir))
            except FileNotFoundError:
                names = []
            old = self._packs or {}
            for name in names:
                if not name.endswith(".pack") or is_temporary(name):
                    continue
                if not (self.pack_dir / name[:-5]).with_suffix(".idx").exists():
                    continue  # a pack is used only once its index is in place
                if name in old:
                    current[name] = old[name]
                    continue
                try:
                    current[name] = self._open_pack(self.pack_dir / name)
                except FileNotFoundError:
                    continue  # removed by a concurrent gc
                except CorruptObject as e:
                    self.damaged[name] = str(e)
            self._packs = current
        return list(self._packs.values())

    def _open_pack(self, path: Path) -> PackFile:
        try:
            return PackFile(path)
        except CorruptObject:
            if not self.repair:
                raise
        # Rebuild the index from the pack, which iter_pack verifies first.
        from roar.atomic import write_atomic
        from roar.objects.pack import encode_index

        write_atomic(path.with_suffix(".idx"), encode_index(path.read_bytes()), fsync=self.fsync)
        return PackFile(path)

    def pack_entries(self, ids: Iterable[str]) -> Iterator[PackEntry]:
        """Verified entries for a pack of `ids` (for gc and push)."""
        for oid in ids:
            frame = self.read_frame(oid)
            raw = self.decompress(frame, oid)
            if object_id(raw) != oid:
                raise CorruptObject(f"object {oid} is corrupt: its content hashes to another id")
            yield PackEntry(oid, frame)

    def close(self) -> None:
        for pack in (self._packs or {}).values():
            pack.close()
        self._packs = None
