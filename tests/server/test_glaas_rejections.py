"""The server refuses bad input with a 4xx and stores nothing."""

from __future__ import annotations

import struct
import time

import pytest
import requests
import zstandard
from glaas_fixtures import assert_refused, frame, pack_of, post, signed

from roar.objects.base import header, object_id
from roar.objects.job import Job
from roar.objects.pack import PackEntry, encode_pack
from roar.objects.session import Session


def job_raw(n: int = 0) -> bytes:
    return Job(
        "run", (b"echo", str(n).encode(), str(time.time_ns()).encode()), b"/w", 1, 2, 0
    ).serialize()


def retrailer(body: bytes) -> bytes:
    import blake3

    return body[:-32] + blake3.blake3(body[:-32]).digest()


@pytest.fixture
def pusher(make_user):  # type: ignore[no-untyped-def]
    return make_user("mallory")


def test_a_valid_pack_is_accepted(glaas, pusher):
    before = glaas.stats()
    r = post(glaas, pusher, "/api/v1/push", pack_of(job_raw()))
    assert r.status_code == 200, r.text
    assert glaas.stats()["objects"] == before["objects"] + 1


def test_truncated_pack(glaas, pusher):
    before = glaas.stats()
    body = pack_of(job_raw(1), job_raw(2))
    assert_refused(glaas, post(glaas, pusher, "/api/v1/push", body[: len(body) // 2]), 400, before)


def test_flipped_byte(glaas, pusher):
    before = glaas.stats()
    body = bytearray(pack_of(job_raw(1)))
    body[12 + 36 + 10] ^= 0x01  # inside the first object's frame
    assert_refused(glaas, post(glaas, pusher, "/api/v1/push", bytes(body)), 400, before)
    # ... also when the sender recomputes the trailer to hide it
    assert_refused(glaas, post(glaas, pusher, "/api/v1/push", retrailer(bytes(body))), 400, before)


def test_hash_that_does_not_match(glaas, pusher):
    before = glaas.stats()
    raw = job_raw(3)
    wrong = object_id(job_raw(4))
    body = encode_pack([PackEntry(wrong, frame(raw))])
    assert_refused(glaas, post(glaas, pusher, "/api/v1/push", body), 400, before)


def test_zstd_bomb_declaring_more_than_the_limit(glaas, pusher):
    before = glaas.stats()
    raw = header("blob", 17 * 1024 * 1024) + bytes(17 * 1024 * 1024)
    body = encode_pack([PackEntry(object_id(raw), frame(raw))])
    assert len(body) < 64 * 1024  # tiny on the wire
    assert_refused(glaas, post(glaas, pusher, "/api/v1/push", body), 400, before)


def test_zstd_bomb_expanding_past_its_declared_size(glaas, pusher):
    before = glaas.stats()
    raw = header("blob", 8 * 1024 * 1024) + bytes(8 * 1024 * 1024)
    f = bytearray(frame(raw))
    descriptor = f[4]
    assert descriptor >> 6 == 2  # a 4-byte content size field
    at = 4 + 1 + (0 if descriptor & 0x20 else 1) + (0, 1, 2, 4)[descriptor & 3]
    f[at : at + 4] = struct.pack("<I", 100)  # claim 100 bytes
    body = encode_pack([PackEntry(object_id(raw), bytes(f))])
    assert_refused(glaas, post(glaas, pusher, "/api/v1/push", body), 400, before)


def test_frame_without_declared_size(glaas, pusher):
    before = glaas.stats()
    raw = job_raw(5)
    f = zstandard.ZstdCompressor(write_content_size=False).compress(raw)
    body = encode_pack([PackEntry(object_id(raw), f)])
    assert_refused(glaas, post(glaas, pusher, "/api/v1/push", body), 400, before)


def test_unknown_kind(glaas, pusher):
    before = glaas.stats()
    raw = header("widget", 2) + b"\xa0\x00"
    assert_refused(glaas, post(glaas, pusher, "/api/v1/push", pack_of(raw)), 400, before)


def test_reference_to_an_object_not_sent(glaas, pusher):
    before = glaas.stats()
    session = Session(None, object_id(job_raw(6)), 1, "run", time.time_ns()).serialize()
    assert_refused(glaas, post(glaas, pusher, "/api/v1/push", pack_of(session)), 400, before)


def test_bad_signature(glaas, pusher):
    before = glaas.stats()
    body = pack_of(job_raw(7))
    url, headers = signed(glaas, pusher, "/api/v1/push", body)
    sig = headers["Signature"]
    headers["Signature"] = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
    r = requests.post(url, data=body, headers=headers, timeout=30)
    assert_refused(glaas, r, 401, before)


def test_body_swapped_under_a_valid_signature(glaas, pusher):
    before = glaas.stats()
    url, headers = signed(glaas, pusher, "/api/v1/push", pack_of(job_raw(8)))
    r = requests.post(url, data=pack_of(job_raw(9)), headers=headers, timeout=30)
    assert_refused(glaas, r, 401, before)


def test_unsigned_push(glaas):
    before = glaas.stats()
    r = requests.post(glaas.url + "/api/v1/push", data=pack_of(job_raw(10)), timeout=30)
    assert_refused(glaas, r, 401, before)


def test_replayed_request(glaas, pusher):
    body = pack_of(job_raw(11))
    url, headers = signed(glaas, pusher, "/api/v1/push", body)
    assert requests.post(url, data=body, headers=headers, timeout=30).status_code == 200
    before = glaas.stats()
    replay = requests.post(url, data=body, headers=headers, timeout=30)
    assert_refused(glaas, replay, 401, before)
    assert "replayed" in replay.json()["detail"]


def test_stale_signature(glaas, pusher):
    before = glaas.stats()
    body = pack_of(job_raw(12))
    r = post(glaas, pusher, "/api/v1/push", body, created=int(time.time()) - 3600)
    assert_refused(glaas, r, 401, before)


def test_push_into_a_scope_the_caller_lacks(glaas, make_user, pusher):
    before = glaas.stats()
    body = pack_of(job_raw(13))
    # no account: only anonymous
    assert_refused(glaas, post(glaas, pusher, "/api/v1/push", body, scope="private"), 403, before)
    # an account, but not a member of the project
    alice = make_user("alice", login=True)
    before = glaas.stats()
    r = post(glaas, alice, "/api/v1/push", body, scope="someone/else")
    assert_refused(glaas, r, 403, before)


def test_ref_compare_and_swap_conflict_stores_nothing(glaas, pusher):
    j1, j2 = job_raw(14), job_raw(15)
    s1 = Session(None, object_id(j1), 1, "run", 1).serialize()
    create = {"ref": "sessions/cas", "new": object_id(s1)}
    r = post(glaas, pusher, "/api/v1/push", pack_of(j1, s1), params=create)
    assert r.status_code == 200, r.text
    before = glaas.stats()
    s2 = Session(None, object_id(j2), 1, "run", 2).serialize()
    # "create" a ref that already exists, then "move" it from a value it does not hold
    again = {"ref": "sessions/cas", "new": object_id(s2)}
    r = post(glaas, pusher, "/api/v1/push", pack_of(j2, s2), params=again)
    assert_refused(glaas, r, 409, before)
    stale = {**again, "old": object_id(j1)}
    r = post(glaas, pusher, "/api/v1/push", pack_of(j2, s2), params=stale)
    assert_refused(glaas, r, 409, before)
