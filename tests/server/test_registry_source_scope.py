"""The registry's LineageSource answers only what the caller may see (docs/protocol.md
§1): jobs, sessions and refs by namespace; an artifact's existence is global. Pushed
through the storage layer's real push path, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path

import blake3
import pytest
import zstandard

from roar.errors import NotFound
from roar.lineage.producers import producer_of
from roar.lineage.resolve import Resolver
from roar.objects.base import RoarObject
from roar.objects.job import ArtifactRef, Job
from roar.objects.pack import PackEntry, encode_pack
from roar.objects.session import Session
from roar.server.limits import Limits
from roar.server.scope import NOBODY, Caller, Namespace
from roar.server.storage import Storage
from roar.server.storage.records import RefUpdate
from roar.server.verify import check_pack, unresolved_references

ALICE = Caller("alice", "SHA256:alice-key")
PRIVATE = Namespace("private:alice", False, "private:alice", "alice")
PUBLIC = Namespace("public:bob", True, "public:bob", "bob")


def h(name: str) -> str:
    return blake3.blake3(name.encode()).hexdigest()


def job(argv: str, writes: list[str], ended: int) -> Job:
    outs = tuple(ArtifactRef(f"/w/{n}".encode(), h(n), 1) for n in writes)
    return Job("run", tuple(a.encode() for a in argv.split()), b"/w", ended - 1, ended, 0,
               outputs=outs)  # fmt: skip


def push(storage: Storage, where: Namespace, objs: list[RoarObject], ref: RefUpdate | None = None):  # type: ignore[no-untyped-def]
    zstd = zstandard.ZstdCompressor(write_content_size=True)
    pack = encode_pack(sorted(PackEntry(o.id, zstd.compress(o.serialize())) for o in objs))
    checked = check_pack(pack, Limits(), time.time_ns())
    storage.push.apply(checked, unresolved_references(checked), where, ref)


@pytest.fixture(params=["sqlite", "postgresql"])
def storage(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'glaas.sqlite3'}"
    else:
        url = request.getfixturevalue("pg_cluster").new_database()
    s = Storage(url)
    yield s
    s.close()


def test_the_source_answers_only_what_the_caller_may_see(storage: Storage) -> None:
    # given: bob publicly and alice privately (later) wrote the same model; alice's
    # job is step @1 of her private session and also wrote a secret file
    public = job("python train.py", ["model"], ended=10)
    private = job("python train.py --private", ["model", "secret"], ended=20)
    step = Session(None, private.id, 1, "run", 30)
    push(storage, PUBLIC, [public])
    push(storage, PRIVATE, [private, step], RefUpdate("sessions/main", None, step.id))
    anyone, alice = storage.source(NOBODY), storage.source(ALICE)

    # then: each caller's producer is the newest writer it can see
    assert producer_of(anyone, h("model")) == public.id
    assert producer_of(alice, h("model")) == private.id
    assert anyone.writers([h("model"), h("secret")]) == {h("model"): {public.id}}
    assert anyone.jobs([private.id]) == {}
    # alice's session, ref and placement are hers alone
    assert anyone.placements([private.id]) == {} and anyone.session_refs() == {}
    assert [(p.ref, p.step.label) for p in alice.placements([private.id])[private.id]] == [
        ("private:alice sessions/main", "@1")
    ]
    with pytest.raises(NotFound):
        anyone.chain(step.id)
    assert [s.job for s in alice.chain(step.id)] == [private.id]
    # a private job's id is not found by prefix; the artifact's existence is global
    resolver = Resolver(anyone, "", lambda _name: None)
    with pytest.raises(NotFound):
        resolver.resolve_hash(private.id[:12])
    assert resolver.resolve_hash(h("secret")[:12])[:2] == ("artifact", h("secret"))
    assert Resolver(alice, "", lambda _n: None).resolve_hash(private.id[:12]).kind == "job"
