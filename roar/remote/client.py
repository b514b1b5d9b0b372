"""HTTP to a GLaaS server: every request signed, every refusal a RemoteError.

One method per endpoint of docs/protocol.md. Large bodies go up and come
down in chunks so the CLI can show progress.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import urlencode, urlsplit

from roar.errors import RemoteError
from roar.identity.keys import SigningKey
from roar.identity.signature import sign_headers
from roar.objects.base import is_id

API = "/api/v1"
PACK_TYPE = "application/x-roar-pack"
CHUNK = 256 * 1024
Progress = Callable[[int, int], None]  # (done bytes, total bytes)


@dataclass(frozen=True)
class Negotiation:
    missing: list[str]
    ref: str | None  # the remote ref's current value
    namespace: str


MAX_FETCH_BYTES = 1024 * 1024 * 1024  # a fetched pack, spooled to disk as it arrives


class RemoteClient:
    def __init__(self, url: str, key: SigningKey | None, scope: str, *, timeout: float = 300):
        import requests

        self.url = url.rstrip("/")
        self.key = key
        self.scope = scope
        self.timeout = timeout
        self._http = requests.Session()
        self._base_path = urlsplit(self.url).path.rstrip("/")

    def close(self) -> None:
        self._http.close()

    def _request(
        self,
        method: str,
        endpoint: str,
        *,
        params: dict[str, str | bytes] | None = None,
        body: bytes = b"",
        content_type: str = "application/json",
        progress: Progress | None = None,
        stream: bool = False,
        cosigner: SigningKey | None = None,
    ) -> Any:
        import requests

        query = urlencode(params or {})
        path = self._base_path + API + endpoint
        headers = {"Content-Type": content_type} if body or method == "POST" else {}
        if self.key is not None:
            headers.update(
                sign_headers(self.key, method, path, query, body, self.scope, cosigner=cosigner)
            )
        data: Any = body
        if progress is not None and body:
            data = _chunks(body, progress)
        url = self.url + API + endpoint + (f"?{query}" if query else "")
        try:
            resp = self._http.request(
                method, url, data=data, headers=headers, timeout=self.timeout, stream=stream
            )
        except requests.RequestException as e:
            raise RemoteError(f"cannot reach {self.url}: {e.__class__.__name__}") from None
        if resp.status_code >= 400:
            try:
                detail = resp.json().get("detail", resp.text)
            except ValueError:
                detail = resp.text[:200]
            raise RemoteError(f"{self.url} refused ({resp.status_code}): {detail}")
        return resp

    def _json(self, method: str, endpoint: str, value: Any = None, **kw: Any) -> Any:
        body = b"" if value is None else json.dumps(value, separators=(",", ":")).encode()
        return self._request(method, endpoint, body=body, **kw).json()

    # -- endpoints -------------------------------------------------------

    def negotiate(self, ids: list[str], ref: str | None) -> Negotiation:
        out = self._json("POST", "/negotiate", {"ids": ids, "ref": ref})
        missing = out.get("missing") if isinstance(out, dict) else None
        remote_ref = out.get("ref") if isinstance(out, dict) else None
        namespace = out.get("namespace") if isinstance(out, dict) else None
        if (
            not isinstance(missing, list)
            or not all(isinstance(i, str) and is_id(i) for i in missing)
            or not (remote_ref is None or (isinstance(remote_ref, str) and is_id(remote_ref)))
            or not isinstance(namespace, str)
        ):
            raise RemoteError(f"{self.url} answered the negotiation with something malformed")
        return Negotiation(missing, remote_ref, namespace)

    def push(
        self,
        pack: bytes,
        ref: str | None = None,
        old: str | None = None,
        new: str | None = None,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        params = {}
        if ref is not None and new is not None:
            params = {"ref": ref, "new": new, **({"old": old} if old else {})}
        resp = self._request(
            "POST", "/push", params=params, body=pack, content_type=PACK_TYPE, progress=progress
        )
        return resp.json()  # type: ignore[no-any-return]

    def fetch(
        self,
        want: str,
        have: list[str],
        spool: BinaryIO,
        progress: Progress | None = None,
        limit: int = MAX_FETCH_BYTES,
    ) -> str:
        """Write the closure's pack into `spool` as it arrives; the raw Roar-Refs header.

        Raises RemoteError, having read no more than `limit` bytes, when the
        server sends (or announces) more.
        """
        body = json.dumps({"want": want, "have": have}, separators=(",", ":")).encode()
        resp = self._request("POST", "/fetch", body=body, stream=True)
        try:
            declared = resp.headers.get("content-length") or ""
            total = int(declared) if declared.isdigit() else 0
            if total > limit:
                raise RemoteError(f"{self.url} announced a {total}-byte pack, over {limit} bytes")
            done = 0
            for chunk in resp.iter_content(CHUNK):
                done += len(chunk)
                if done > limit:
                    raise RemoteError(f"{self.url} sent more than {limit} bytes; stopped")
                spool.write(chunk)
                if progress is not None:
                    progress(done, total)
            return str(resp.headers.get("roar-refs") or "[]")
        finally:
            resp.close()

    def resolve(self, prefix: str) -> list[dict[str, str]]:
        """Registered hashes starting with `prefix`: [{"hash", "kind"}, ...]."""
        return self._json("GET", f"/resolve/{prefix}")["matches"]  # type: ignore[no-any-return]

    def lookup(self, digest: str) -> dict[str, Any]:
        return self._json("GET", f"/lookup/{digest}")  # type: ignore[no-any-return]

    def artifact(self, digest: str) -> dict[str, Any]:
        """The artifact page's data (GET /api/v1/artifacts/<hash>, docs/protocol.md §8)."""
        return self._json("GET", f"/artifacts/{digest}")  # type: ignore[no-any-return]

    def search(self, **filters: Any) -> list[dict[str, Any]]:
        """GET /search (docs/protocol.md §5). A bytes value (a path for `file`) is sent
        percent-encoded byte for byte; others as text."""
        params = {
            k: v if isinstance(v, bytes) else str(v) for k, v in filters.items() if v is not None
        }
        return self._json("GET", "/search", params=params)["jobs"]  # type: ignore[no-any-return]

    def whoami(self) -> dict[str, Any]:
        return self._json("GET", "/whoami")  # type: ignore[no-any-return]

    def sign_up(self, name: str) -> dict[str, Any]:
        assert self.key is not None
        return self._json(  # type: ignore[no-any-return]
            "POST", "/accounts", {"name": name, "public_key": self.key.public.openssh}
        )

    def web_login(self) -> dict[str, Any]:
        """A one-time browser login link (docs/protocol.md §8)."""
        return self._json("POST", "/web-login", {})  # type: ignore[no-any-return]

    def add_key(self, account: str, new_key: SigningKey) -> dict[str, Any]:
        """Add `new_key` to `account`: signed by this client's key (the account's) and by
        the new key itself, which is how the server knows its holder asked."""
        return self._json(  # type: ignore[no-any-return]
            "POST",
            f"/accounts/{account}/keys",
            {"public_key": new_key.public.openssh},
            cosigner=new_key,
        )

    def projects(self) -> list[dict[str, Any]]:
        return self._json("GET", "/projects")["projects"]  # type: ignore[no-any-return]

    def create_project(self, name: str) -> dict[str, Any]:
        return self._json("POST", "/projects", {"name": name})  # type: ignore[no-any-return]

    def add_member(self, project: str, account: str) -> dict[str, Any]:
        return self._json(  # type: ignore[no-any-return]
            "POST", f"/projects/{project}/members", {"account": account}
        )


def _chunks(body: bytes, progress: Progress) -> Iterator[bytes]:
    for i in range(0, len(body), CHUNK):
        yield body[i : i + CHUNK]
        progress(min(i + CHUNK, len(body)), len(body))


def connect(ws, remote_name: str | None = None):  # type: ignore[no-untyped-def]
    """(remote, client) for a workspace: its remote, the user's key, its scope."""
    from roar.identity.keys import load_key
    from roar.remote.remotes import get_remote
    from roar.remote.scope import effective_scope

    remote = get_remote(ws, remote_name)
    scope = effective_scope(ws, remote.url)
    return remote, RemoteClient(remote.url, load_key(), scope.scope)
