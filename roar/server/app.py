"""The HTTP API of GLaaS (`/api/v1`), a FastAPI app with its OpenAPI at `/docs`.

Handlers parse, authenticate and call `Storage`; blocking database work runs
in the thread pool. The wire format is specified in docs/protocol.md.
"""

from __future__ import annotations

import json
import os
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from roar.identity.keys import PublicKey
from roar.identity.signature import SignatureInvalid, SignedRequest, is_signed, verify
from roar.objects.base import is_id
from roar.objects.pack import PackEntry, encode_pack
from roar.server.scope import Caller, ScopeDenied, namespace_for_write, valid_name
from roar.server.storage import MissingReferences, RefMoved, RefUpdate, Storage
from roar.server.verify import Limits, PackRejected, unresolved_references, verify_pack

API = "/api/v1"
PACK_TYPE = "application/x-roar-pack"
MAX_JSON_BYTES = 64 * 1024 * 1024


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
    public_key: str


class ProjectRequest(BaseModel):
    name: str


class MemberRequest(BaseModel):
    account: str


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"request body is larger than the {limit}-byte limit")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"request body is larger than the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(storage: Storage, limits: Limits | None = None) -> FastAPI:
    limits = limits or Limits()
    app = FastAPI(
        title="GLaaS",
        version="1",
        description="Global lineage registry for roar: push/fetch object packs, look up any hash.",
    )
    app.state.storage = storage

    async def authenticate(request: Request, body: bytes, *, required: bool) -> Caller:
        headers = {k.lower(): v for k, v in request.headers.items()}
        if not is_signed(headers):
            if required:
                raise HTTPException(401, "this request must be signed (docs/protocol.md §2)")
            return Caller(None, None)
        signed = SignedRequest(request.method, request.url.path, request.url.query, body, headers)
        try:
            ok = verify(signed)
        except SignatureInvalid as e:
            raise HTTPException(401, f"bad signature: {e}") from None
        fresh = await run_in_threadpool(storage.use_nonce, ok.key.fingerprint, ok.nonce, ok.created)
        if not fresh:
            raise HTTPException(401, "replayed request: this signature's nonce was already used")
        caller = await run_in_threadpool(storage.caller, ok.key.fingerprint)
        if ok.scope == "anonymous":
            # Logged out: act as nobody, even with a key that has an account.
            return Caller(None, caller.fingerprint)
        request.state.scope = ok.scope
        return caller

    def scope_of(request: Request) -> str:
        return request.headers.get("roar-scope", "anonymous")

    @app.get(API, summary="Protocol version and limits")
    async def root() -> dict[str, Any]:
        return {
            "service": "glaas",
            "api": 1,
            "limits": {
                "max_pack_bytes": limits.max_pack_bytes,
                "max_objects": limits.max_objects,
                "max_object_bytes": limits.max_object_bytes,
            },
        }

    @app.post(f"{API}/negotiate", summary="Which of these objects does my scope lack?")
    async def negotiate(request: Request) -> dict[str, Any]:
        body = await _body(request, MAX_JSON_BYTES)
        caller = await authenticate(request, body, required=True)
        req = NegotiateRequest.model_validate_json(body)
        where = _namespace(scope_of(request), caller)
        ids = [i for i in req.ids if is_id(i)]
        missing = await run_in_threadpool(storage.missing, ids, where.ns)
        ref = None
        if req.ref is not None:
            _check_ref_name(req.ref)
            ref = await run_in_threadpool(storage.ref, where.ref_ns, req.ref)
        return {"missing": missing, "ref": ref, "namespace": where.ns}

    @app.post(
        f"{API}/push",
        summary="Store a pack of objects and move a ref (compare-and-swap)",
        openapi_extra={"requestBody": {"content": {PACK_TYPE: {}}}},
    )
    async def push(
        request: Request, ref: str | None = None, old: str | None = None, new: str | None = None
    ) -> dict[str, Any]:
        body = await _body(request, limits.max_pack_bytes)
        caller = await authenticate(request, body, required=True)
        where = _namespace(scope_of(request), caller)
        update = None
        if ref is not None:
            _check_ref_name(ref)
            if new is None or not is_id(new) or (old is not None and not is_id(old)):
                raise HTTPException(400, "a ref update needs new=<id> and optionally old=<id>")
            update = RefUpdate(ref, old, new)
        try:
            objs = await run_in_threadpool(verify_pack, body, limits)
        except PackRejected as e:
            raise HTTPException(400, f"pack rejected: {e}") from None
        dangling = unresolved_references(objs)
        try:
            result = await run_in_threadpool(storage.apply_push, objs, dangling, where, update)
        except MissingReferences as e:
            raise HTTPException(400, f"pack rejected: {e}") from None
        except RefMoved as e:
            raise HTTPException(409, str(e)) from None
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
        body = await _body(request, MAX_JSON_BYTES)
        caller = await authenticate(request, body, required=False)
        req = FetchRequest.model_validate_json(body)
        if not is_id(req.want):
            raise HTTPException(400, "want must be a 64-character hex hash")
        closure = await run_in_threadpool(storage.closure, req.want, set(req.have), caller)
        if closure.size == 0:
            raise HTTPException(404, f"no lineage of {req.want} is registered where you can see it")
        entries = await run_in_threadpool(
            lambda: [PackEntry(i, bytes(f)) for i, f in storage.frames(closure.ids)]
        )
        return Response(
            encode_pack(entries),
            media_type=PACK_TYPE,
            headers={"Roar-Refs": json.dumps(closure.refs, separators=(",", ":"))},
        )

    @app.get(f"{API}/lookup/{{digest}}", summary="Everything visible about a hash")
    async def lookup(request: Request, digest: str) -> Response:
        caller = await authenticate(request, b"", required=False)
        if not is_id(digest):
            raise HTTPException(400, "not a 64-character hex hash")
        # A few indexed point queries (~1 ms): run inline, since a hop through the
        # thread pool costs more than the work and widens the latency tail.
        found = storage.lookup(digest, caller)
        if found is None:
            raise HTTPException(404, f"{digest} is not registered (or not visible to you)")
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
        caller = await authenticate(request, b"", required=False)
        filters = {
            "command": command,
            "file": file,
            "gpu": gpu,
            "file_type": file_type,
            "label": label,
            "owner": owner,
            "since": since,
            "until": until,
        }
        jobs = await run_in_threadpool(storage.search, caller, filters, min(max(limit, 1), 1000))
        return {"jobs": jobs}

    @app.post(f"{API}/accounts", status_code=201, summary="Sign up with an ssh-ed25519 key")
    async def sign_up(request: Request) -> dict[str, Any]:
        body = await _body(request, 64 * 1024)
        caller = await authenticate(request, body, required=True)
        req = AccountRequest.model_validate_json(body)
        key = _public_key(req.public_key)
        if key.fingerprint != caller.fingerprint:
            raise HTTPException(403, "sign the sign-up request with the key being registered")
        if caller.account is not None:
            raise HTTPException(409, f"this key already belongs to {caller.account}")
        if not valid_name(req.name):
            raise HTTPException(400, "account names are 1-63 of a-z 0-9 _ . - (lower case)")
        if await run_in_threadpool(storage.account_exists, req.name):
            raise HTTPException(409, f"account {req.name} exists")
        await run_in_threadpool(storage.create_account, req.name, key.openssh, key.fingerprint)
        return {"account": req.name, "fingerprint": key.fingerprint}

    @app.post(f"{API}/accounts/{{name}}/keys", status_code=201, summary="Add a key to an account")
    async def add_key(request: Request, name: str) -> dict[str, Any]:
        body = await _body(request, 64 * 1024)
        caller = await authenticate(request, body, required=True)
        if caller.account != name:
            raise HTTPException(403, f"only {name} may add keys to {name}")
        key = _public_key(KeyRequest.model_validate_json(body).public_key)
        try:
            await run_in_threadpool(storage.add_key, name, key.openssh, key.fingerprint)
        except Exception:
            raise HTTPException(409, "this key is already registered") from None
        return {"account": name, "fingerprint": key.fingerprint}

    @app.get(f"{API}/whoami", summary="The account the signing key belongs to")
    async def whoami(request: Request) -> dict[str, Any]:
        caller = await authenticate(request, b"", required=True)
        return {
            "account": caller.account,
            "fingerprint": caller.fingerprint,
            "projects": list(caller.memberships),
        }

    @app.post(f"{API}/projects", status_code=201, summary="Create a project owned by the caller")
    async def create_project(request: Request) -> dict[str, Any]:
        body = await _body(request, 64 * 1024)
        caller = await authenticate(request, body, required=True)
        if caller.account is None:
            raise HTTPException(403, "projects need an account")
        name = ProjectRequest.model_validate_json(body).name
        if not valid_name(name):
            raise HTTPException(400, "project names are 1-63 of a-z 0-9 _ . - (lower case)")
        if await run_in_threadpool(storage.project_exists, caller.account, name):
            raise HTTPException(409, f"project {caller.account}/{name} exists")
        await run_in_threadpool(storage.create_project, caller.account, name)
        return {"project": f"{caller.account}/{name}"}

    @app.post(f"{API}/projects/{{owner}}/{{name}}/members", summary="Add a member (owner only)")
    async def add_member(request: Request, owner: str, name: str) -> dict[str, Any]:
        body = await _body(request, 64 * 1024)
        caller = await authenticate(request, body, required=True)
        if caller.account != owner or not await run_in_threadpool(
            storage.project_exists, owner, name
        ):
            raise HTTPException(403, f"only the owner of {owner}/{name} may add members")
        account = MemberRequest.model_validate_json(body).account
        if not await run_in_threadpool(storage.account_exists, account):
            raise HTTPException(404, f"no account {account}")
        await run_in_threadpool(storage.add_member, owner, name, account)
        return {"project": f"{owner}/{name}", "member": account}

    @app.get(f"{API}/projects", summary="The caller's projects and their members")
    async def list_projects(request: Request) -> dict[str, Any]:
        caller = await authenticate(request, b"", required=True)
        if caller.account is None:
            return {"projects": []}
        return {"projects": await run_in_threadpool(storage.projects, caller.account)}

    # The web UI: pages at /, their JSON twins under /api/v1 (roar/server/web/).
    from roar.server.web import mount

    mount(app, storage, authenticate)
    return app


def _namespace(scope: str, caller: Caller):  # type: ignore[no-untyped-def]
    try:
        return namespace_for_write(scope, caller)
    except ScopeDenied as e:
        raise HTTPException(403, str(e)) from None


def _public_key(text: str) -> PublicKey:
    try:
        return PublicKey.parse(text)
    except ValueError as e:
        raise HTTPException(400, f"public_key: {e}") from None


def _check_ref_name(name: str) -> None:
    parts = name.split("/")
    if len(parts) < 2 or parts[0] != "sessions" or any(p in ("", ".", "..") for p in parts):
        raise HTTPException(400, f"ref names look like sessions/<name>, not {name!r}")


def app_from_env() -> FastAPI:
    """Factory for uvicorn workers: the database URL comes from GLAAS_DATABASE_URL."""
    url = os.environ["GLAAS_DATABASE_URL"]
    return create_app(Storage(url))
