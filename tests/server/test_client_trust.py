"""The client trusts no server (issue #11, items 11 and 12).

A hostile registry, a real HTTP peer on loopback that answers the protocol
as the test scripts it, asks for objects the user never confirmed, sends
too much, points refs at objects it never sent or at jobs, and sends
headers that do not parse. The client sends nothing it should not, stores
nothing it was not sure of, and says what went wrong in one line.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import zstandard
from glaas_fixtures import record_pipeline

from roar.objects.job import Job
from roar.objects.pack import PackEntry, encode_pack, iter_pack
from roar.objects.session import Session
from roar.workspace import Workspace


class Hostile(ThreadingHTTPServer):
    """Answers each path with what the test put in `answers`; keeps what it received."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answers: dict[str, tuple[int, dict[str, str], bytes | Iterator[bytes]]] = {}
        self.received: dict[str, bytes] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 - the http.server interface
        path = self.path.split("?")[0]
        length = int(self.headers.get("content-length") or 0)
        self.server.received[path] = self.rfile.read(length)  # type: ignore[attr-defined]
        status, headers, body = self.server.answers.get(path, (404, {}, b"{}"))  # type: ignore[attr-defined]
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if isinstance(body, bytes):
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for chunk in body:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_POST  # noqa: N815

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    server = Hostile()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def user(tmp_path: Path, hostile: Hostile):  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    (home / "ws").mkdir(parents=True)
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    ws, _ = Workspace.create(home / "ws")
    ws.config.set("glaas.url", hostile.url)
    ws.config.set("store.fsync", "false")
    return ws, env


def frame(raw: bytes) -> bytes:
    return zstandard.ZstdCompressor(write_content_size=True).compress(raw)


def pack(*objs) -> bytes:  # type: ignore[no-untyped-def]
    return encode_pack(PackEntry(o.id, frame(o.serialize())) for o in objs)


def answer_negotiate(hostile: Hostile, missing: list[str]) -> None:
    body = json.dumps({"missing": missing, "ref": None, "namespace": "anon"}).encode()
    hostile.answers["/api/v1/negotiate"] = (200, {"Content-Type": "application/json"}, body)
    hostile.answers["/api/v1/push"] = (200, {"Content-Type": "application/json"},
                                       b'{"stored": 0, "namespace": "anon"}')  # fmt: skip


# -- 11. register sends only what is missing AND in the confirmed plan -----------------


def test_register_sends_only_planned_objects_whatever_the_server_asks(hostile, user, roar_cli):
    ws, env = user
    # given: a private experiment in another session, and the session to register
    private = Job("run", (b"python", b"secret-experiment.py"), bytes(ws.root), 1, 2, 0)
    private_id = ws.objects.write(private)
    record_pipeline(ws)
    from roar.remote.closure import plan, resolve_target

    ids = set(plan(ws, resolve_target(ws, None)).objects)
    assert len(ids) == 6 and private_id not in ids
    # when: the registry calls the private job "missing" too
    answer_negotiate(hostile, sorted(ids | {private_id}))
    r = roar_cli("register", "-y", cwd=ws.root, env=env)
    # then: the pack holds the plan and nothing else
    assert r.returncode == 0, r.stderr
    sent = {e.id for _, e in iter_pack(hostile.received["/api/v1/push"])}
    assert sent == ids and private_id not in sent


def test_a_malformed_negotiation_is_one_clear_error(hostile, user, roar_cli):
    ws, env = user
    record_pipeline(ws)
    for body in (b'{"missing": 5}', b"[]", b'{"missing": ["../x"], "ref": null, "namespace": ""}'):
        hostile.answers["/api/v1/negotiate"] = (200, {}, body)
        r = roar_cli("register", "-y", cwd=ws.root, env=env)
        assert r.returncode == 8 and "malformed" in r.stderr and "Traceback" not in r.stderr


# -- 12. fetch: capped, refs checked, bounded ---------------------------------------------


def pipeline_objects(root: bytes) -> tuple[Job, Session]:
    job = Job("run", (b"python", b"prep.py", str(time.time_ns()).encode()), root, 1, 2, 0)
    return job, Session(None, job.id, 1, "run", 3)


def stored_nothing(ws: Workspace) -> bool:
    return ws.objects.all_ids() == set() and ws.refs.list("refs/") == {}


def fetch_answer(
    hostile: Hostile, body: bytes | Iterator[bytes], refs: str, **headers: str
) -> None:
    hostile.answers["/api/v1/fetch"] = (
        200, {"Content-Type": "application/x-roar-pack", "Roar-Refs": refs, **headers}, body
    )  # fmt: skip


def test_a_good_answer_is_fetched(hostile, user, roar_cli):
    ws, env = user
    job, step = pipeline_objects(bytes(ws.root))
    fetch_answer(hostile, pack(job, step), json.dumps([{"name": "sessions/main",
                                                        "target": step.id}]))  # fmt: skip
    r = roar_cli("fetch", step.id, cwd=ws.root, env=env)
    assert r.returncode == 0, r.stderr
    assert ws.refs.read("refs/remotes/glaas/sessions/main") == step.id
    assert ws.refs.read("refs/sessions/main") is None  # remote-tracking only, as git fetch
    assert roar_cli("log", cwd=ws.root, env=env).returncode == 0


@pytest.mark.parametrize(
    "refs, why",
    [
        ("not json", "unparsable"),
        ('{"name": "sessions/main"}', "not a list"),
        ('[{"name": "sessions/main", "target": "%s"}]' % ("e" * 64), "did not send"),
        ('[{"name": "sessions/main", "target": "JOB"}]', "a job, not a session"),
        ('[{"name": "sessions/../../HEAD", "target": "STEP"}]', "bad name"),
        ('[{"name": "heads/main", "target": "STEP"}]', "bad name"),
        ('[{"name": "sessions/a", "target": "STEP"}, {"name": "sessions/a", "target": "JOB"}]',
         "two targets"),
    ],
)  # fmt: skip
def test_a_bad_refs_header_stores_nothing(hostile, user, roar_cli, refs, why):
    ws, env = user
    job, step = pipeline_objects(bytes(ws.root))
    fetch_answer(hostile, pack(job, step), refs.replace("JOB", job.id).replace("STEP", step.id))
    r = roar_cli("fetch", step.id, cwd=ws.root, env=env)
    assert r.returncode == 8, r.stderr
    assert why in r.stderr and "Traceback" not in r.stderr
    assert stored_nothing(ws)
    assert roar_cli("log", cwd=ws.root, env=env).returncode == 0


def test_too_many_refs_are_refused(hostile, user, roar_cli):
    ws, env = user
    job, step = pipeline_objects(bytes(ws.root))
    refs = [{"name": f"sessions/s{i}", "target": step.id} for i in range(300)]
    fetch_answer(hostile, pack(job, step), json.dumps(refs))
    r = roar_cli("fetch", step.id, cwd=ws.root, env=env)
    assert r.returncode == 8 and "at most" in r.stderr
    assert stored_nothing(ws)


def test_an_announced_or_endless_answer_stops_at_the_cap(hostile, user, roar_cli, monkeypatch):
    ws, env = user
    job, step = pipeline_objects(bytes(ws.root))
    refs = json.dumps([{"name": "sessions/main", "target": step.id}])
    fetch_answer(hostile, pack(job, step), refs, **{"Content-Length": str(8 * 1024**3)})
    r = roar_cli("fetch", step.id, cwd=ws.root, env=env)
    assert r.returncode == 8 and "announced" in r.stderr
    assert stored_nothing(ws)
    # an endless chunked stream: read up to the cap, then refused (in-process, small cap)
    from roar.remote.client import RemoteClient
    from roar.remote.fetch import fetch
    from roar.remote.remotes import Remote

    fetch_answer(hostile, (b"\0" * 65536 for _ in range(10**6)), refs)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    from roar.errors import RemoteError
    from roar.identity.keys import load_key

    client = RemoteClient(hostile.url, load_key(), "anonymous")
    started = time.monotonic()
    with pytest.raises(RemoteError, match="sent more than"):
        fetch(ws, Remote("glaas", hostile.url), client, step.id, limit=4 * 1024 * 1024)
    assert time.monotonic() - started < 30
    assert stored_nothing(Workspace(ws.root))
    assert [p for p in ws.objects.pack_dir.iterdir()] == []
