"""Helpers the GLaaS tests share: server processes and a recorded pipeline.

A module of its own (not conftest.py) so test files can import it by a name
no other directory's conftest shadows.
"""

from __future__ import annotations

import time
import uuid
from urllib.parse import urlencode

import requests
import zstandard

from roar.identity.signature import sign_headers
from roar.objects.base import object_id
from roar.objects.job import ArtifactRef, Job
from roar.objects.pack import PackEntry, encode_pack
from roar.server.launch import free_port, start_server, stop  # noqa: F401 - used by the tests
from roar.sessions import append
from roar.workspace import Workspace

# The browser tests' Chromium: Debian's package, never a downloaded one.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def record_pipeline(ws: Workspace, tag: str | None = None) -> dict[str, str]:
    """A 3-step diamond: prep writes a.csv; train reads a.csv, writes model.pt;
    eval reads model.pt and a.csv, writes metrics.json. Returns artifact hashes by name."""
    import blake3

    tag = tag or uuid.uuid4().hex
    root = bytes(ws.root)
    files = {n: blake3.blake3(f"{n}:{tag}".encode()).hexdigest() for n in ("a", "model", "metrics")}
    now = time.time_ns()

    def art(name: str, rel: str) -> ArtifactRef:
        return ArtifactRef(root + b"/" + rel.encode(), files[name], 100)

    steps = [
        Job("run", (b"python", b"prep.py", tag.encode()), root, now, now + 1, 0,
            outputs=(art("a", "a.csv"),)),
        Job("run", (b"python", b"train.py"), root, now + 2, now + 3, 0,
            inputs=(art("a", "a.csv"),), outputs=(art("model", "model.pt"),)),
        Job("run", (b"python", b"eval.py"), root, now + 4, now + 5, 0,
            inputs=(art("a", "a.csv"), art("model", "model.pt")),
            outputs=(art("metrics", "metrics.json"),)),
    ]  # fmt: skip
    for job in steps:
        append(ws, ws.objects.write(job), "run")
    return files


def record_composite_pipeline(ws: Workspace) -> dict[str, str]:
    """@1 writes shards/ (a composite of one file), @2 reads that one file and writes
    model.pt. Returns the ids and hashes by name: tree, shard, model, writer, reader."""
    import blake3

    from roar.objects.tree import Tree, TreeEntry

    root = bytes(ws.root)
    shard = blake3.blake3(b"shard-0" + root).hexdigest()
    model = blake3.blake3(b"model" + root).hexdigest()
    tree = ws.objects.write(Tree.of([TreeEntry(b"part-0.bin", shard, 7)]))
    writes = Job("run", (b"python", b"shard.py"), root, 1, 2, 0,
                 outputs=(ArtifactRef(root + b"/shards", tree, 7, "tree"),))  # fmt: skip
    reads = Job("run", (b"python", b"train.py"), root, 3, 4, 0,
                inputs=(ArtifactRef(root + b"/shards/part-0.bin", shard, 7),),
                outputs=(ArtifactRef(root + b"/model.pt", model, 5),))  # fmt: skip
    ids = {name: ws.objects.write(job) for name, job in (("writer", writes), ("reader", reads))}
    for name in ("writer", "reader"):
        append(ws, ids[name], "run")
    return {"tree": tree, "shard": shard, "model": model, **ids}


def signed(glaas, user, path, body=b"", *, scope="anonymous", params=None, method="POST", **kw):  # type: ignore[no-untyped-def]
    """A signed request's (url, headers), as the client would send it."""
    query = urlencode(params or {})
    headers = sign_headers(user.key(), method, path, query, body, scope, **kw)
    headers["Content-Type"] = "application/x-roar-pack"
    return glaas.url + path + (f"?{query}" if query else ""), headers


def post(glaas, user, path, body=b"", **kw):  # type: ignore[no-untyped-def]
    url, headers = signed(glaas, user, path, body, **kw)
    return requests.post(url, data=body, headers=headers, timeout=60)


def frame(raw: bytes) -> bytes:
    return zstandard.ZstdCompressor(write_content_size=True).compress(raw)


def pack_of(*raws: bytes) -> bytes:
    return encode_pack(PackEntry(object_id(r), frame(r)) for r in raws)


def assert_refused(glaas, response, status: int, before: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
    """The response has `status` and no table of the registry gained a row."""
    assert response.status_code == status, response.text
    assert glaas.stats() == before


def post_json(glaas, user, path, value, *, scope="private", **kw):  # type: ignore[no-untyped-def]
    """A signed POST of a JSON body."""
    import json

    return post(glaas, user, path, json.dumps(value).encode(), scope=scope, **kw)


def get_signed(glaas, user, path, *, scope="private", params=None):  # type: ignore[no-untyped-def]
    url, headers = signed(glaas, user, path, scope=scope, params=params, method="GET")
    return requests.get(url, headers=headers, timeout=60)


def browser_login(glaas, user) -> requests.Session:  # type: ignore[no-untyped-def]
    """A browser-like session signed in as `user` the way a person does it:
    a link from a signed request, its page, the page's confirming POST."""
    import re

    link = post_json(glaas, user, "/api/v1/web-login", {}).json()["path"]
    browser = requests.Session()
    page = browser.get(glaas.url + link, timeout=30)
    assert page.status_code == 200, page.text
    confirm = re.search(r'name="confirm" value="([^"]+)"', page.text)
    assert confirm is not None, page.text
    done = browser.post(
        glaas.url + link,
        data={"confirm": confirm.group(1)},
        headers={"Origin": glaas.url},
        allow_redirects=False,
        timeout=30,
    )
    assert done.status_code == 303, done.text
    return browser
