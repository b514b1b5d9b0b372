"""Cost per request is bounded before it is paid; bad input is a 4xx (issue #11, items 7-9).

On SQLite and PostgreSQL: each test asserts the status and that nothing was
stored. Memory and time of the same requests are measured in
benchmarks/test_bench_registry_limits.py.
"""

from __future__ import annotations

import base64
import http.client
import json
import time
from urllib.parse import urlsplit

import cbor2
import pytest
import requests
from glaas_fixtures import (
    assert_refused,
    frame,
    get_signed,
    pack_of,
    post,
    post_json,
    signed,
    start_server,
    stop,
)

from roar.objects.base import header, object_id
from roar.objects.env import Env
from roar.objects.job import ArtifactRef, Job
from roar.objects.label import Label
from roar.objects.pack import PackEntry, encode_pack
from roar.objects.session import Session
from roar.server.errors import PackRejected
from roar.server.limits import Limits
from roar.server.verify import check_pack

MiB = 1024 * 1024


@pytest.fixture
def pusher(make_user):  # type: ignore[no-untyped-def]
    return make_user("mallory")


def cbor_bomb(maps: int) -> bytes:
    """A job object whose body is one array of `maps` empty maps: tiny compressed."""
    body = b"\x9a" + maps.to_bytes(4, "big") + b"\xa0" * maps
    return header("job", len(body)) + body


def raw_job(**fields) -> bytes:  # type: ignore[no-untyped-def]
    """A job body with any field values, even ones the Job class would refuse to build."""
    value = Job("run", (b"x", str(time.time_ns()).encode()), b"/w", 1, 2, 0).to_value()
    value.update(fields)
    body = cbor2.dumps(value, canonical=True)
    return header("job", len(body)) + body


# -- 7. decoded items, nesting, per object and per pack ---------------------------------


def test_a_tiny_pack_of_fifteen_million_empty_maps_is_refused(glaas, pusher):
    before = glaas.stats()
    raw = cbor_bomb(15_000_000)
    body = encode_pack([PackEntry(object_id(raw), frame(raw))])
    assert len(body) < 4096
    r = post(glaas, pusher, "/api/v1/push", body)
    assert_refused(glaas, r, 400, before)
    assert "CBOR items" in r.json()["detail"]


def test_nesting_past_the_bound_is_refused(glaas, pusher):
    before = glaas.stats()
    deep: list = []
    for _ in range(100):
        deep = [deep]
    r = post(glaas, pusher, "/api/v1/push", pack_of(raw_job(context={"x": deep})))
    assert_refused(glaas, r, 400, before)
    assert "deeper" in r.json()["detail"]


def test_the_pack_budgets_hold_across_objects():
    """Each object under its own cap, all of them over the pack's: refused (pure check)."""
    limits = Limits(max_object_items=1000, max_pack_items=2500, max_pack_inflated_bytes=10 * MiB)
    jobs = [raw_job(context={"pad": list(range(300))}) for _ in range(8)]
    with pytest.raises(PackRejected, match="pack holds more than 2500 CBOR items"):
        check_pack(pack_of(*jobs), limits, time.time_ns())
    with pytest.raises(PackRejected, match="decompresses to more than"):
        check_pack(pack_of(*jobs), Limits(max_pack_inflated_bytes=4000), time.time_ns())
    assert len(check_pack(pack_of(*jobs[:2]), limits, time.time_ns())) == 2


# -- 8. headers before body; every route's body capped ------------------------------------


def send_declared(glaas, path: str, headers: dict[str, str], declared: int) -> tuple[int, str]:
    """POST declaring `declared` body bytes but sending 1 KiB: only a server that answers
    from the headers alone answers before the socket times out."""
    conn = http.client.HTTPConnection(urlsplit(glaas.url).netloc, timeout=20)
    conn.putrequest("POST", path)
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.putheader("Content-Length", str(declared))
    conn.endheaders()
    conn.send(b"\0" * 1024)
    resp = conn.getresponse()
    text = resp.read().decode()
    conn.close()
    return resp.status, text


@pytest.mark.parametrize("path", ["/api/v1/push", "/api/v1/web-login", "/api/v1/negotiate"])
def test_an_unsigned_large_body_is_refused_before_it_is_read(glaas, path):
    before = glaas.stats()
    status, text = send_declared(glaas, path, {"Content-Type": "application/json"}, 400 * MiB)
    assert status == 401, text
    assert glaas.stats() == before


def test_a_stale_or_forged_signature_is_refused_before_the_body(glaas, pusher):
    before = glaas.stats()
    _, stale = signed(glaas, pusher, "/api/v1/push", b"x", created=int(time.time()) - 3600)
    status, text = send_declared(glaas, "/api/v1/push", stale, 250 * MiB)
    assert status == 401 and "stale" in text
    _, forged = signed(glaas, pusher, "/api/v1/push", b"x")
    forged["Signature-Input"] = forged["Signature-Input"].replace("created=", "created=1")
    status, _ = send_declared(glaas, "/api/v1/push", forged, 250 * MiB)
    assert status == 401
    assert glaas.stats() == before


def test_every_route_caps_its_body(glaas, make_user):
    alice = make_user("alice", login=True)
    limits = requests.get(f"{glaas.url}/api/v1", timeout=30).json()["limits"]
    before = glaas.stats()
    for path, cap in (
        ("/api/v1/web-login", limits["max_form_bytes"]),
        ("/api/v1/projects", limits["max_form_bytes"]),
        ("/api/v1/accounts", limits["max_form_bytes"]),
        ("/api/v1/negotiate", limits["max_json_bytes"]),
        ("/api/v1/push", limits["max_pack_bytes"]),
    ):
        # declared: refused from the header, whatever follows
        _, headers = signed(glaas, alice, path, b"{}", scope="private")
        status, text = send_declared(glaas, path, headers, cap + 1)
        assert status == 413, (path, text)
        if cap <= limits["max_json_bytes"]:
            # streamed without a length: refused once the cap is passed
            big = b" " * (cap + 1)
            url, headers = signed(glaas, alice, path, big, scope="private")
            r = requests.post(url, data=iter([big]), headers=headers, timeout=60)
            assert r.status_code == 413, (path, r.text)
    assert glaas.stats() == before


# -- 9. bad input is a 4xx, never a 500 ----------------------------------------------------


def test_integers_past_the_columns_are_refused(glaas, make_user):
    alice = make_user("alice", login=True)
    before = glaas.stats()
    art = ArtifactRef(b"/w/a", object_id(b"a"), 2**63).to_value()
    for bad in (
        raw_job(started_ns=2**64 - 1),
        raw_job(ended_ns=-(2**64)),
        raw_job(exit_code=2**40),
        raw_job(outputs=[art]),
    ):
        r = post(glaas, alice, "/api/v1/push", pack_of(bad), scope="public")
        assert_refused(glaas, r, 400, before)
        assert "out of range" in r.json()["detail"]
    job = Job("run", (b"x", str(time.time_ns()).encode()), b"/w", 1, 2, 0)
    for label in (
        Label(job.id, {"k": "v"}, None, 2**64 - 1),
        Label(job.id, {"k": 2**63}, None, time.time_ns()),
        Label(job.id, {"k" * 300: "v"}, None, time.time_ns()),
    ):
        r = post(glaas, alice, "/api/v1/push", pack_of(job.serialize(), label.serialize()),
                 scope="public")  # fmt: skip
        assert_refused(glaas, r, 400, before)
    step = Session(None, job.id, 2**31, "run", 1)
    r = post(glaas, alice, "/api/v1/push", pack_of(job.serialize(), step.serialize()))
    assert_refused(glaas, r, 400, before)


def test_bad_json_is_a_400(glaas, make_user):
    alice = make_user("alice", login=True)
    before = glaas.stats()
    for path in (
        "/api/v1/negotiate",
        "/api/v1/fetch",
        "/api/v1/accounts",
        f"/api/v1/accounts/{alice.name}/keys",
        "/api/v1/projects",
    ):
        for body in (b"{not json", b"[]", b'{"ids": 5, "want": 7, "name": [], "public_key": 1}'):
            r = post(glaas, alice, path, body, scope="private")
            assert r.status_code == 400, (path, body, r.status_code, r.text)
    r = requests.post(f"{glaas.url}/api/v1/fetch", data=b"\xff\xfe", timeout=30)
    assert r.status_code == 400
    assert glaas.stats() == before


def test_malformed_signatures_and_queries_are_4xx(glaas, make_user):
    alice = make_user("alice", login=True)
    url, headers = signed(glaas, alice, "/api/v1/negotiate", b"{}", scope="private")
    sig = headers["Signature"].removeprefix("roar=:").removesuffix(":")
    for bad in (sig.rstrip("="), sig[:-4], "!!" + sig[2:], base64.b64encode(b"x" * 65).decode()):
        r = requests.post(url, data=b"{}", headers={**headers, "Signature": f"roar=:{bad}:"},
                          timeout=30)  # fmt: skip
        assert r.status_code == 401, (bad, r.text)
    for params in ({"since": str(2**70)}, {"until": str(-(2**70))}, {"limit": str(2**80)}):
        r = requests.get(f"{glaas.url}/api/v1/search", params=params, timeout=30)
        assert r.status_code in (200, 400), r.text
        if "limit" not in params:
            assert r.status_code == 400
    assert requests.get(f"{glaas.url}/?since={2**70}", timeout=30).status_code == 400
    r = get_signed(glaas, alice, "/api/v1/search", params={"since": str(2**64)})
    assert r.status_code == 400


def test_long_names_and_odd_text_are_4xx_or_stored_safely(glaas, make_user):
    alice = make_user("alice", login=True)
    before = glaas.stats()
    long_ref = "sessions/" + "r" * 300
    r = post_json(glaas, alice, "/api/v1/negotiate", {"ids": [], "ref": long_ref})
    assert r.status_code == 400
    job = Job("run", (b"a\0b",), b"/w", 1, 2, 0)
    step = Session(None, job.id, 1, "run", 1)
    r = post(glaas, alice, "/api/v1/push", pack_of(job.serialize(), step.serialize()),
             scope="private", params={"ref": long_ref, "new": step.id})  # fmt: skip
    assert_refused(glaas, r, 400, before)
    # NUL in a command (no PostgreSQL text holds it) and a GPU name that is not text
    env = Env(os={}, cpu={}, memory=1, gpus=({"name": 5}, {"name": "A100"}))
    job = Job("run", (b"a\0b", str(time.time_ns()).encode()), b"/w", 1, 2, 0,
              context={"env": env.id})  # fmt: skip
    r = post(glaas, alice, "/api/v1/push", pack_of(env.serialize(), job.serialize()),
             scope="private")  # fmt: skip
    assert r.status_code == 200, r.text
    found = get_signed(glaas, alice, f"/api/v1/lookup/{job.id}").json()["job"]
    assert found["command"].startswith("a\\x00b ") and found["gpu"] == "A100"


def test_a_database_outage_is_a_503_not_a_conflict(pg_cluster, make_user, tmp_path):
    import psycopg

    from roar.remote.client import RemoteClient

    database = pg_cluster.new_database()
    url, proc = start_server(database, tmp_path / "outage.log")
    try:
        alice = make_user("alice")

        class Server:  # what the helpers need of a registry
            pass

        server = Server()
        server.url = url  # type: ignore[attr-defined]
        name = f"alice{time.time_ns() % 10**6}"
        r = post_json(server, alice, "/api/v1/accounts",
                      {"name": name, "public_key": alice.key().public.openssh})  # fmt: skip
        assert r.status_code == 201, r.text
        with psycopg.connect(pg_cluster.url_base + "postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{database.rsplit("/", 1)[1]}" WITH (FORCE)')
        laptop = make_user("laptop")
        with pytest.raises(Exception, match="503"):
            RemoteClient(url, alice.key(), "private").add_key(name, laptop.key())
    finally:
        stop([proc])


def test_fetch_and_negotiate_bound_their_lists(glaas, make_user):
    alice = make_user("alice")
    limits = requests.get(f"{glaas.url}/api/v1", timeout=30).json()["limits"]
    ids = [f"{i:064x}" for i in range(limits["max_objects"] + 1)]
    r = post_json(glaas, alice, "/api/v1/negotiate", {"ids": ids, "ref": None}, scope="anonymous")
    assert r.status_code == 400 and "at most" in r.json()["detail"]
    r = requests.post(f"{glaas.url}/api/v1/fetch", json={"want": "0" * 64, "have": ids[:10]},
                      timeout=30)  # fmt: skip
    assert r.status_code == 404
    assert json.loads(r.text)["detail"].startswith("no lineage")
