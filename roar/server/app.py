"""The HTTP API of GLaaS (`/api/v1`), a FastAPI app with its OpenAPI at `/docs`.

Handlers authenticate (auth.py: headers before body), parse under the
route's body cap, and call `Storage`; blocking database work runs in the
thread pool. Every refusal is a RegistryError, answered by the one mapping
in errors.py. The wire format is specified in docs/protocol.md.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from roar.identity.keys import PublicKey
from roar.identity.signature import PROOF_HEADER, SignatureInvalid, signature_bytes
from roar.lineage.resolve import is_digest_text
from roar.objects.base import is_id
from roar.objects.pack import pack_stream
from roar.server import errors
from roar.server.auth import Authenticator, query_bytes, signed_headers
from roar.server.errors import BadRequest, Forbidden, NotFound
from roar.server.indexing import INT64
from roar.server.scope import namespace_for_write, valid_name
from roar.server.storage import Storage
from roar.server.storage.records import RefUpdate, SearchFilters
from roar.server.verify import check_pack, unresolved_references
from roar.server.web import views

API = "/api/v1"
PACK_TYPE = "application/x-roar-pack"
MAX_REF_NAME = 255  # refs.name is VARCHAR(255)


class NegotiateRequest(BaseModel):
    ids: list[str] = Field(description="Ids of the objects the client would push")
    ref: str | None = Field(None, description="The ref it would move, e.g. sessions/main")


class FetchRequest(BaseModel):
    want: str = Field(description="An artifact hash, job id, session id or other object id")
    have: list[str] = Field(default_factory=list, description="Ids the client already holds")


class AccountRequest(BaseModel):
    name: str
    public_key: str


class KeyRequest(BaseModel):
    public_key: str = Field(
        description="The key to add; the request carries its signature too (Roar-Key-Proof)"
    )


class ProjectRequest(BaseModel):
    name: str


class MemberRequest(BaseModel):
    account: str


def create_app(storage: Storage) -> FastAPI:
    limits = storage.limits
    app = FastAPI(
        title="GLaaS",
        version="1",
        description="Global lineage registry for roar: push/fetch object packs, look up any hash.",
    )
    app.state.storage = storage
    errors.install(app)
    authenticate = Authenticator(storage)

    @app.get(API, summary="Protocol version and limits")
    async def root() -> dict[str, Any]:
        return {"service": "glaas", "api": 1, "limits": limits.to_json()}

    @app.post(f"{API}/negotiate", summary="Which of these objects does my scope lack?")
    async def negotiate(request: Request) -> dict[str, Any]:
        signed = await authenticate(request, required=True, body_limit=limits.max_json_bytes)
        req = NegotiateRequest.model_validate_json(signed.body)
        if len(req.ids) > limits.max_objects:
            raise BadRequest(f"negotiate at most {limits.max_objects} ids at a time")
        where = namespace_for_write(signed.caller)
        ids = [i for i in req.ids if is_id(i)]
        missing = await run_in_threadpool(storage.push.missing, ids, where.ns)
        ref = None
        if req.ref is not None:
            _check_ref_name(req.ref)
            ref = await run_in_threadpool(storage.push.ref, where.ref_ns, req.ref)
        return {"missing": missing, "ref": ref, "namespace": where.ns}

    @app.post(
        f"{API}/push",
        summary="Store a pack of objects and move a ref (compare-and-swap)",
        openapi_extra={"requestBody": {"content": {PACK_TYPE: {}}}},
    )
    async def push(
        request: Request, ref: str | None = None, old: str | None = None, new: str | None = None
    ) -> dict[str, Any]:
        # Everything the headers and the query decide, before the body is read.
        signed_headers(request)
        update = None
        if ref is not None:
            _check_ref_name(ref)
            if new is None or not is_id(new) or (old is not None and not is_id(old)):
                raise BadRequest("a ref update needs new=<id> and optionally old=<id>")
            update = RefUpdate(ref, old, new)
        signed = await authenticate(request, required=True, body_limit=limits.max_pack_bytes)
        where = namespace_for_write(signed.caller)
        objs = await run_in_threadpool(check_pack, signed.body, limits, time.time_ns())
        dangling = unresolved_references(objs)
        result = await run_in_threadpool(storage.push.apply, objs, dangling, where, update)
        return {
            "stored": result.stored,
            "already": result.already,
            "namespace": where.ns,
            "ref": None if update is None else {"name": update.name, "target": update.new},
        }

    @app.post(
        f"{API}/fetch",
        summary="A pack of the lineage closure upstream of a hash, minus what the client has",
        response_class=Response,
        responses={200: {"content": {PACK_TYPE: {}}}},
    )
    async def fetch(request: Request) -> Response:
        signed = await authenticate(request, required=False, body_limit=limits.max_json_bytes)
        req = FetchRequest.model_validate_json(signed.body)
        if not is_id(req.want):
            raise BadRequest("want must be a 64-character hex hash")
        closure = await run_in_threadpool(
            storage.closure.of, req.want, set(req.have), storage.source(signed.caller)
        )
        if closure.size == 0:
            raise NotFound(f"no lineage of {req.want} is registered where you can see it")
        refs = json.dumps([r.to_json() for r in closure.refs], separators=(",", ":"))
        # Streamed: frames come from the database a chunk at a time, never all at once.
        return StreamingResponse(
            _iterate_in_threads(pack_stream(len(closure.ids), storage.closure.frames(closure.ids))),
            media_type=PACK_TYPE,
            headers={"Roar-Refs": refs},
        )

    @app.get(f"{API}/lookup/{{digest}}", summary="Everything visible about a hash")
    async def lookup(request: Request, digest: str) -> Response:
        signed = await authenticate(request, required=False)
        digest = digest.lower()
        if not is_id(digest) and not is_digest_text(digest):
            raise BadRequest(
                "not a hash: 64 hex digits (BLAKE3, an object id, a sha256), a full md5 "
                "or sha512, or sha256:/md5:/sha512: and its hex"
            )
        # A few indexed point queries (~1 ms): run inline, since a hop through the
        # thread pool costs more than the work and widens the latency tail.
        found = views.lookup(storage, signed.caller, digest)
        if found is None:
            raise NotFound(f"{digest} is not registered (or not visible to you)")
        return Response(json.dumps(found, separators=(",", ":")), media_type="application/json")

    @app.get(f"{API}/search", summary="Jobs by command, GPU, file type, label, owner, time")
    async def search(
        request: Request,
        command: str | None = None,
        file: str | None = None,
        gpu: str | None = None,
        file_type: str | None = None,
        label: str | None = None,
        owner: str | None = None,
        since: int | None = None,
        until: int | None = None,
        limit: int = 100,
    ) -> dict[str, Any]:
        signed = await authenticate(request, required=False)
        for name, value in (("since", since), ("until", until)):
            if value is not None and not INT64[0] <= value <= INT64[1]:
                raise BadRequest(f"{name} is nanoseconds since the epoch, a 64-bit integer")
        # `file` is declared for the API's schema; its bytes are read raw (a path).
        file_bytes = query_bytes(request, "file")
        filters = SearchFilters(command, file_bytes, gpu, file_type, label, owner, since, until)
        limit = min(max(limit, 1), 1000) if INT64[0] <= limit <= INT64[1] else 1000
        jobs = await run_in_threadpool(storage.lookup.search, signed.caller, filters, limit)
        return {"jobs": [j.to_json() for j in jobs]}

    @app.post(f"{API}/accounts", status_code=201, summary="Sign up with an ssh-ed25519 key")
    async def sign_up(request: Request) -> dict[str, Any]:
        signed = await authenticate(request, required=True, body_limit=limits.max_form_bytes)
        req = AccountRequest.model_validate_json(signed.body)
        key = _public_key(req.public_key)
        if key.fingerprint != signed.caller.fingerprint:
            raise Forbidden("sign the sign-up request with the key being registered")
        if not valid_name(req.name):
            raise BadRequest("account names are 1-63 of a-z 0-9 _ . - (lower case)")
        await run_in_threadpool(storage.accounts.create, req.name, key.openssh, key.fingerprint)
        return {"account": req.name, "fingerprint": key.fingerprint}

    @app.post(f"{API}/accounts/{{name}}/keys", status_code=201, summary="Add a key to an account")
    async def add_key(request: Request, name: str) -> dict[str, Any]:
        proof = signed_headers(request).get(PROOF_HEADER.lower())
        signed = await authenticate(request, required=True, body_limit=limits.max_form_bytes)
        if signed.caller.account != name:
            raise Forbidden(f"only {name} may add keys to {name}")
        key = _public_key(KeyRequest.model_validate_json(signed.body).public_key)
        # The new key proves possession: it signed this very request too.
        assert signed.verified is not None
        try:
            proven = proof is not None and key.verify(signature_bytes(proof), signed.verified.base)
        except SignatureInvalid:
            proven = False
        if not proven:
            raise Forbidden(
                f"the key being added must sign this request too ({PROOF_HEADER}): "
                "a public key alone proves nothing"
            )
        await run_in_threadpool(storage.accounts.add_key, name, key.openssh, key.fingerprint)
        return {"account": name, "fingerprint": key.fingerprint}

    @app.get(f"{API}/whoami", summary="The account the signing key belongs to")
    async def whoami(request: Request) -> dict[str, Any]:
        caller = (await authenticate(request, required=True)).caller
        return {
            "account": caller.account,
            "fingerprint": caller.fingerprint,
            "projects": list(caller.memberships),
        }

    @app.post(f"{API}/projects", status_code=201, summary="Create a project owned by the caller")
    async def create_project(request: Request) -> dict[str, Any]:
        signed = await authenticate(request, required=True, body_limit=limits.max_form_bytes)
        owner = signed.caller.account
        if owner is None:
            raise Forbidden("projects need an account")
        name = ProjectRequest.model_validate_json(signed.body).name
        if not valid_name(name):
            raise BadRequest("project names are 1-63 of a-z 0-9 _ . - (lower case)")
        await run_in_threadpool(storage.accounts.create_project, owner, name)
        return {"project": f"{owner}/{name}"}

    @app.post(f"{API}/projects/{{owner}}/{{name}}/members", summary="Add a member (owner only)")
    async def add_member(request: Request, owner: str, name: str) -> dict[str, Any]:
        signed = await authenticate(request, required=True, body_limit=limits.max_form_bytes)
        if signed.caller.account != owner or not await run_in_threadpool(
            storage.accounts.project_exists, owner, name
        ):
            raise Forbidden(f"only the owner of {owner}/{name} may add members")
        account = MemberRequest.model_validate_json(signed.body).account
        if not await run_in_threadpool(storage.accounts.exists, account):
            raise NotFound(f"no account {account}")
        await run_in_threadpool(storage.accounts.add_member, owner, name, account)
        return {"project": f"{owner}/{name}", "member": account}

    @app.get(f"{API}/projects", summary="The caller's projects and their members")
    async def list_projects(request: Request) -> dict[str, Any]:
        caller = (await authenticate(request, required=True)).caller
        if caller.account is None:
            return {"projects": []}
        found = await run_in_threadpool(storage.accounts.projects, caller.account)
        return {"projects": [p.to_json() for p in found]}

    # The web UI: pages at /, their JSON twins under /api/v1 (roar/server/web/).
    from roar.server.web import mount

    mount(app, storage, authenticate)
    return app


async def _iterate_in_threads(chunks: Iterator[bytes]):  # type: ignore[no-untyped-def]
    """An async view of a blocking iterator (database reads), one chunk per thread hop."""
    done = object()
    while True:
        chunk = await run_in_threadpool(next, chunks, done)
        if chunk is done:
            return
        yield chunk


def _public_key(text: str) -> PublicKey:
    try:
        return PublicKey.parse(text)
    except ValueError as e:
        raise BadRequest(f"public_key: {e}") from None


def _check_ref_name(name: str) -> None:
    from roar.errors import UsageError
    from roar.refs.refstore import check_ref_name

    try:
        check_ref_name("refs/" + name)
        ok = name.startswith("sessions/") and len(name) <= MAX_REF_NAME
    except UsageError:
        ok = False
    if not ok:
        raise BadRequest(
            f"ref names look like sessions/<name>, at most {MAX_REF_NAME} characters, "
            f"not {name[:80]!r}"
        )


def app_from_env() -> FastAPI:
    """Factory for uvicorn workers: the database URL comes from GLAAS_DATABASE_URL."""
    url = os.environ["GLAAS_DATABASE_URL"]
    return create_app(Storage(url))
