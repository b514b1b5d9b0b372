"""Every hash a user may hold (issue #15): `roar run --hash` and `hash.also` record
md5/sha256/sha512 beside BLAKE3 in the same read, and `roar show` finds the file by
them. Real CLI and tracer; hashlib's and blake3's digests are the ground truth."""

from __future__ import annotations

import hashlib
import json
import uuid

import blake3

WRITE_MODEL = """
import sys
data = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(data[::-1] * 3)
"""


def _ok(roar_cli, *args: str):  # type: ignore[no-untyped-def]
    r = roar_cli(*args)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def test_sha256_and_md5_name_the_file_locally(workspace, roar_cli) -> None:  # type: ignore[no-untyped-def]
    # given: a model written from a dataset, with sha256 asked on the command line
    # and md5 in the config (an S3 ETag of a single-part upload is the md5)
    root = workspace.root
    data = uuid.uuid4().bytes * 1000
    (root / "data.bin").write_bytes(data)
    (root / "write.py").write_text(WRITE_MODEL)
    model = data[::-1] * 3
    _ok(roar_cli, "config", "set", "hash.also", "md5")
    _ok(roar_cli, "run", "--hash", "sha256", "python", "write.py", "data.bin", "model.bin")
    job = json.loads(_ok(roar_cli, "show", "@1", "--json").stdout)
    written = {a["path"]: a for a in job["outputs"]}[str(root / "model.bin")]
    assert written["hash"] == blake3.blake3(model).hexdigest()
    assert written["digests"] == {
        "md5": hashlib.md5(model).hexdigest(),
        "sha256": hashlib.sha256(model).hexdigest(),
    }
    read = {a["path"]: a for a in job["inputs"]}[str(root / "data.bin")]
    assert read["digests"]["sha256"] == hashlib.sha256(data).hexdigest()

    # then: each digest a user may hold names the model, as its BLAKE3 does
    want = blake3.blake3(model).hexdigest()
    for text in (
        hashlib.sha256(model).hexdigest(),
        "sha256:" + hashlib.sha256(model).hexdigest()[:12],
        hashlib.md5(model).hexdigest().upper(),
        "md5:" + hashlib.md5(model).hexdigest(),
    ):
        shown = json.loads(_ok(roar_cli, "show", text, "--json").stdout)
        assert shown["artifact"] == want, text
        assert shown["digests"]["sha256"] == hashlib.sha256(model).hexdigest()
        assert shown["produced_by"]["id"] == job["id"]
    text = _ok(roar_cli, "show", "md5:" + hashlib.md5(model).hexdigest()).stdout
    assert f"  sha256: {hashlib.sha256(model).hexdigest()}" in text
    # a sha256 nobody recorded says what was tried
    missing = roar_cli("show", "sha256:" + hashlib.sha256(b"other").hexdigest())
    assert missing.returncode == 4 and "not a path, a step" in missing.stderr


def test_unchanged_inputs_get_new_digests_from_one_read_and_keep_them(workspace, roar_cli) -> None:  # type: ignore[no-untyped-def]
    root = workspace.root
    (root / "weights.bin").write_bytes(b"w" * 5000)
    _ok(roar_cli, "run", "cat", "weights.bin")  # BLAKE3 alone, cached
    _ok(roar_cli, "run", "--hash", "sha512", "cat", "weights.bin")
    _ok(roar_cli, "run", "--hash", "md5", "cat", "weights.bin")
    # one step (the same command re-run); its live job asked for md5 only
    live = json.loads(_ok(roar_cli, "show", "@1", "--json").stdout)
    assert live["inputs"][0]["digests"] == {"md5": hashlib.md5(b"w" * 5000).hexdigest()}
    # the store's cache kept BLAKE3, sha512 and md5 for it: one record of each file
    cached = (workspace.dir / "cache" / "digests").read_bytes()
    assert cached[:8] == b"RDCACHE1" and (len(cached) - 8) % 176 == 0
    sha512 = hashlib.sha512(b"w" * 5000).hexdigest()
    assert json.loads(_ok(roar_cli, "show", sha512, "--json").stdout)["artifact"] == (
        blake3.blake3(b"w" * 5000).hexdigest()
    )


def test_hash_settings_say_what_they_take(workspace, roar_cli) -> None:  # type: ignore[no-untyped-def]
    refused = roar_cli("config", "set", "hash.also", "sha256,crc32")
    assert refused.returncode == 2 and "hash.also takes md5, sha256, sha512, not 'crc32'" in (
        refused.stderr
    )
    primary = roar_cli("config", "set", "hash.primary", "sha256")
    assert primary.returncode == 2 and "roar config set hash.also sha256" in primary.stderr
    assert _ok(roar_cli, "config", "set", "hash.also", "SHA256, md5").stdout
    got = json.loads(_ok(roar_cli, "config", "get", "hash.also", "--json").stdout)
    assert got["value"] == ["sha256", "md5"]
    bad = roar_cli("run", "--hash", "crc32", "true")
    assert bad.returncode == 2 and "--hash takes one of" in bad.stderr


def test_get_and_put_record_the_digests_hash_also_asks_for(workspace, roar_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "remote" / "weights.bin"
    source.parent.mkdir()
    data = uuid.uuid4().bytes * 64
    source.write_bytes(data)
    _ok(roar_cli, "config", "set", "hash.also", "sha256")
    _ok(roar_cli, "get", source.as_uri(), "weights.bin")
    (tmp_path / "bucket").mkdir()
    _ok(roar_cli, "put", "weights.bin", (tmp_path / "bucket").as_uri() + "/")
    got = json.loads(_ok(roar_cli, "show", "@1", "--json").stdout)["outputs"][0]
    put = json.loads(_ok(roar_cli, "show", "@2", "--json").stdout)["inputs"][0]
    assert got["digests"] == put["digests"] == {"sha256": hashlib.sha256(data).hexdigest()}
    shown = json.loads(_ok(roar_cli, "show", hashlib.sha256(data).hexdigest(), "--json").stdout)
    assert shown["produced_by"]["type"] == "get"
