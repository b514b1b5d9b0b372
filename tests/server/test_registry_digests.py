"""A file's sha256 or md5 finds its lineage on the registry too (issue #15): the
lookup API, `roar show --remote`, `roar remote lookup` and the web search box, on a
real glaas-server over loopback with SQLite and PostgreSQL. hashlib is the truth."""

from __future__ import annotations

import hashlib
import json
import uuid

import blake3
import requests

WRITE_MODEL = """
import sys
open(sys.argv[2], "wb").write(open(sys.argv[1], "rb").read()[::-1])
"""


def _ok(cli_as, user, *args: str):  # type: ignore[no-untyped-def]
    r = cli_as(user, *args)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def test_a_registered_models_sha256_and_md5_find_its_lineage(make_user, cli_as, glaas) -> None:  # type: ignore[no-untyped-def]
    # given: alice trained with sha256 and md5 recorded and registered her session
    alice = make_user("alice")
    data = uuid.uuid4().bytes * 100
    (alice.ws.root / "data.bin").write_bytes(data)
    (alice.ws.root / "train.py").write_text(WRITE_MODEL)
    model = data[::-1]
    _ok(cli_as, alice, "config", "set", "hash.also", "sha256,md5")
    _ok(cli_as, alice, "run", "python", "train.py", "data.bin", "model.bin")
    job = json.loads(_ok(cli_as, alice, "show", "@1", "--json").stdout)["id"]
    _ok(cli_as, alice, "register", "-y")
    b3, sha256, md5 = (
        blake3.blake3(model).hexdigest(),
        hashlib.sha256(model).hexdigest(),
        hashlib.md5(model).hexdigest(),
    )

    # then: the lookup API answers for each digest with the model's producer
    for text in (sha256, f"sha256:{sha256}", md5, f"md5:{md5.upper()}"):
        r = requests.get(f"{glaas.url}/api/v1/lookup/{text}", timeout=30)
        assert r.status_code == 200, (text, r.text)
        found = r.json()
        assert found["hash"] == b3 and found["artifact"]["producer"]["job"] == job, text
        assert found["named_by"]["algorithm"] in ("sha256", "md5")
        assert found["artifact"]["digests"] == {"blake3": b3, "md5": md5, "sha256": sha256}
    # BLAKE3 itself is answered as before, with the other digests beside it
    assert requests.get(f"{glaas.url}/api/v1/lookup/{b3}", timeout=30).json()["artifact"][
        "digests"
    ] == {"blake3": b3, "md5": md5, "sha256": sha256}
    # a digest nobody registered is 404, a malformed one 400
    unknown = hashlib.sha256(b"never registered").hexdigest()
    assert (
        requests.get(f"{glaas.url}/api/v1/lookup/sha256:{unknown}", timeout=30).status_code == 404
    )
    assert requests.get(f"{glaas.url}/api/v1/lookup/sha256:zz", timeout=30).status_code == 400
    # the CLI's remote answers go through the same lookup
    remote = json.loads(_ok(cli_as, alice, "show", "--remote", sha256, "--json").stdout)
    assert remote["hash"] == b3
    remote = json.loads(_ok(cli_as, alice, "remote", "lookup", f"md5:{md5}", "--json").stdout)
    assert remote["artifact"]["producer"]["job"] == job
    # the web search box takes the sha256 a model card shows, and the page lists it
    page = requests.get(f"{glaas.url}/", params={"q": sha256}, timeout=30, allow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == f"/artifacts/{b3}"
    html = requests.get(f"{glaas.url}/artifacts/{b3}", timeout=30).text
    assert f"sha256:{sha256}" in html and f"md5:{md5}" in html
    resolved = requests.get(f"{glaas.url}/api/v1/resolve/sha256:{sha256[:10]}", timeout=30)
    assert resolved.json()["matches"] == [{"hash": b3, "kind": "artifact", "object_kind": None}]


def test_a_private_pushs_digests_are_not_found_by_others(make_user, cli_as, glaas) -> None:  # type: ignore[no-untyped-def]
    carol = make_user("carol", login=True)
    secret = uuid.uuid4().bytes
    (carol.ws.root / "weights.bin").write_bytes(secret)
    _ok(cli_as, carol, "run", "--hash", "sha256", "cp", "weights.bin", "copy.bin")
    _ok(cli_as, carol, "register", "-y", "--private")
    sha256 = hashlib.sha256(secret).hexdigest()
    assert requests.get(f"{glaas.url}/api/v1/lookup/{sha256}", timeout=30).status_code == 404
    mine = json.loads(_ok(cli_as, carol, "remote", "lookup", sha256, "--json").stdout)
    assert mine["hash"] == blake3.blake3(secret).hexdigest()


def test_a_teammate_fetches_a_lineage_by_its_md5(make_user, cli_as, glaas) -> None:  # type: ignore[no-untyped-def]
    alice, bob = make_user("alice"), make_user("bob")
    data = uuid.uuid4().bytes
    (alice.ws.root / "train.py").write_text(WRITE_MODEL)
    (alice.ws.root / "data.bin").write_bytes(data)
    _ok(cli_as, alice, "run", "--hash", "md5", "python", "train.py", "data.bin", "model.bin")
    _ok(cli_as, alice, "register", "-y")
    md5 = hashlib.md5(data[::-1]).hexdigest()
    _ok(cli_as, bob, "fetch", f"md5:{md5}")
    shown = json.loads(_ok(cli_as, bob, "show", md5, "--json").stdout)
    assert shown["artifact"] == blake3.blake3(data[::-1]).hexdigest()
    assert shown["produced_by"]["argv"][:2] == ["python", "train.py"]
