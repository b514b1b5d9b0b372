"""A real HTTP file server on 127.0.0.1 for get/put and reproduce tests.

Serves a directory: GET (with Range, as object stores and CDNs do), PUT
(stores the body). `cut_after` makes the next GET drop the connection after
that many bytes, the way a flaky network does, to test resuming.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


@dataclass
class FileServer:
    root: Path
    url: str
    cut_after: int | None = None
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, Range


def _handler(server: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _path(self) -> Path:
            return server.root / self.path.lstrip("/").split("?", 1)[0]

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            server.requests.append(("GET", self.path, self.headers.get("Range")))
            path = self._path()
            if not path.is_file():
                self.send_error(404)
                return
            data = path.read_bytes()
            start = 0
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes="):
                start = int(rng[6:].split("-")[0])
                if start >= len(data):
                    self.send_response(416)
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if server.cut_after is not None:
                cut, server.cut_after = server.cut_after, None
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

        def do_PUT(self) -> None:  # noqa: N802
            server.requests.append(("PUT", self.path, None))
            length = int(self.headers.get("Content-Length", 0))
            path = self._path()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(self.rfile.read(length))
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


@pytest.fixture
def file_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FileServer]:
    root = tmp_path_factory.mktemp("served")
    server = FileServer(root, "")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    httpd.shutdown()
    httpd.server_close()
