"""Routes of the web UI: each HTML page and its JSON twin under /api/v1.

A page handler and its twin call the same `views` function with the same
caller; the page renders the dict with a Jinja2 template. Readers are
signed requests (the CLI), a browser login cookie (login.py), or nobody.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from roar.diff import CATEGORIES
from roar.identity.signature import is_signed
from roar.objects.base import is_id
from roar.server.scope import Caller
from roar.server.storage import Storage
from roar.server.web import login, views
from roar.server.web.registry_diff import OperandNotFound, registry_diff

API = "/api/v1"
HERE = Path(__file__).parent
Authenticate = Callable[..., Awaitable[Caller]]
SEARCH_FIELDS = ("command", "file", "file_type", "label", "owner", "gpu")


def _templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ts"] = _timestamp
    env.filters["size"] = _size
    env.filters["tojson_script"] = _json_script
    env.globals["categories"] = CATEGORIES
    return env


def _timestamp(ns: int | None) -> str:
    if ns is None:
        return ""
    return dt.datetime.fromtimestamp(ns / 1e9, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _size(n: int | None) -> str:
    if n is None:
        return ""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _json_script(value: Any) -> str:
    # Safe inside <script type="application/json">: no way to close the tag.
    text = json.dumps(value, separators=(",", ":"), default=_json_default)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return os.fsdecode(value)
    raise TypeError(f"not JSON-serializable: {type(value).__name__}")


def _json(data: Any, status: int = 200) -> Response:
    body = json.dumps(data, separators=(",", ":"), default=_json_default)
    return Response(body, status_code=status, media_type="application/json")


def _date_ns(text: str | None, *, end: bool = False) -> int | None:
    """A form's YYYY-MM-DD (UTC) as ns; `end` takes the end of that day."""
    if not text:
        return None
    if text.isdigit():
        return int(text)
    try:
        day = dt.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        raise HTTPException(400, f"dates look like 2025-01-31, not {text!r}") from None
    if end:
        day += dt.timedelta(days=1)
    return int(day.timestamp()) * 10**9 - (1 if end else 0)


def mount(app: FastAPI, storage: Storage, authenticate: Authenticate) -> None:
    templates = _templates()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    async def reader(request: Request) -> Caller:
        if is_signed({k.lower(): v for k, v in request.headers.items()}):
            return await authenticate(request, b"", required=False)
        cookie = request.cookies.get(login.COOKIE)
        if cookie:
            account = await run_in_threadpool(login.account_of, storage, cookie)
            if account is not None and await run_in_threadpool(storage.account_exists, account):
                return await run_in_threadpool(storage.account_caller, account)
        return Caller(None, None)

    def page(request: Request, caller: Caller, name: str, status: int = 200, **ctx: Any):  # type: ignore[no-untyped-def]
        html = templates.get_template(name).render(request=request, me=caller.account, **ctx)
        return HTMLResponse(html, status_code=status)

    def not_found(request: Request, caller: Caller, what: str) -> HTMLResponse:
        return page(request, caller, "not_found.html", 404, what=what)  # type: ignore[no-any-return]

    async def load(fn: Callable[..., Any], caller: Caller, *args: Any) -> Any:
        return await run_in_threadpool(fn, storage, caller, *args)

    # -- JSON twins ------------------------------------------------------

    def twin(path: str, fn: Callable[..., Any], what: str) -> None:
        async def handler(request: Request, digest: str) -> Response:
            caller = await reader(request)
            data = await load(fn, caller, digest) if is_id(digest) else None
            if data is None:
                raise HTTPException(404, f"no {what} {digest} is registered where you can see it")
            return _json(data)

        app.add_api_route(
            f"{API}/{path}/{{digest}}",
            handler,
            methods=["GET"],
            summary=f"The {what} page's data (JSON twin of /{path}/<hash>)",
        )

    twin("artifacts", views.artifact, "artifact")
    twin("jobs", views.job, "job")
    twin("sessions", views.session, "session")
    twin("dag", views.dag, "lineage")

    @app.get(f"{API}/sessions", summary="Recent session heads you may see (the home page's data)")
    async def recent_json(request: Request) -> Response:
        return _json(await load(views.home, await reader(request)))

    @app.get(f"{API}/resolve/{{prefix}}", summary="Artifacts, jobs and sessions by hash prefix")
    async def resolve_json(request: Request, prefix: str) -> Response:
        return _json({"matches": await load(views.resolve, await reader(request), prefix)})

    @app.get(f"{API}/diff", summary="What differs between two lineages (roar diff), by hash")
    async def diff_json(request: Request, a: str, b: str) -> Response:
        caller = await reader(request)
        try:
            return _json(await load(registry_diff, caller, a.lower(), b.lower()))
        except OperandNotFound as e:
            raise HTTPException(404, str(e)) from None

    @app.post(f"{API}/web-login", summary="A one-time browser login link (signed, account)")
    async def web_login(request: Request) -> dict[str, Any]:
        caller = await authenticate(request, await request.body(), required=True)
        if caller.account is None:
            raise HTTPException(403, "browser logins need an account (roar login --name)")
        token, expires = await run_in_threadpool(login.new_link, storage, caller.account)
        return {"account": caller.account, "path": f"/login/{token}", "expires_ns": expires}

    # -- pages -----------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home(request: Request, q: str = "", since: str = "", until: str = ""):  # type: ignore[no-untyped-def]
        caller = await reader(request)
        matches: list[dict[str, str]] | None = None
        if q.strip():
            matches = await load(views.resolve, caller, q)
            if len(matches) == 1:
                m = matches[0]
                return RedirectResponse(f"/{m['kind']}s/{m['hash']}", status_code=303)
        filters: dict[str, Any] = {f: request.query_params.get(f) or None for f in SEARCH_FIELDS}
        filters["since"] = _date_ns(since)
        filters["until"] = _date_ns(until, end=True)
        results = None
        if any(v is not None for v in filters.values()):
            results = await run_in_threadpool(storage.search, caller, filters, 200)
        twin_params = {k: v for k, v in filters.items() if v is not None}
        return page(
            request,
            caller,
            "home.html",
            q=q,
            matches=matches,
            form={**{f: filters[f] or "" for f in SEARCH_FIELDS}, "since": since, "until": until},
            results=results,
            data=await load(views.home, caller),
            twin=f"{API}/search?{urlencode(twin_params)}"
            if results is not None
            else f"{API}/sessions",
        )

    def html_page(path: str, fn: Callable[..., Any], template: str, what: str) -> None:
        async def handler(request: Request, digest: str) -> Response:
            caller = await reader(request)
            data = await load(fn, caller, digest) if is_id(digest) else None
            if data is None:
                return not_found(request, caller, f"{what} {digest}")
            return page(request, caller, template, data=data, twin=f"{API}/{path}/{digest}")  # type: ignore[no-any-return]

        app.add_api_route(
            f"/{path}/{{digest}}",
            handler,
            methods=["GET"],
            response_class=HTMLResponse,
            include_in_schema=False,
        )

    html_page("artifacts", views.artifact, "artifact.html", "artifact")
    html_page("jobs", views.job, "job.html", "job")
    html_page("sessions", views.session, "session.html", "session")
    html_page("dag", views.dag, "dag.html", "lineage of")

    @app.get("/diff", response_class=HTMLResponse, include_in_schema=False)
    async def diff_page(request: Request, a: str = "", b: str = ""):  # type: ignore[no-untyped-def]
        caller = await reader(request)
        a, b = a.strip().lower(), b.strip().lower()
        data, error = None, None
        if a and b:
            try:
                data = await load(registry_diff, caller, a, b)
            except OperandNotFound as e:
                error = str(e)
        return page(
            request,
            caller,
            "diff.html",
            404 if error else 200,
            a=a,
            b=b,
            data=data,
            error=error,
            twin=f"{API}/diff?{urlencode({'a': a, 'b': b})}",
        )

    @app.get("/login/{token}", include_in_schema=False)
    async def login_link(request: Request, token: str) -> Response:
        cookie = await run_in_threadpool(login.redeem, storage, token)
        if cookie is None:
            return page(
                request,
                Caller(None, None),
                "not_found.html",
                404,
                what="login link (used or expired: run `roar login --web` again)",
            )
        resp = RedirectResponse("/", status_code=303)
        resp.set_cookie(
            login.COOKIE,
            cookie,
            max_age=login.COOKIE_TTL_S,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        return resp

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        cookie = request.cookies.get(login.COOKIE)
        if cookie:
            await run_in_threadpool(login.forget, storage, cookie)
        resp = RedirectResponse("/", status_code=303)
        resp.delete_cookie(login.COOKIE)
        return resp
