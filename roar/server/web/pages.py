"""Routes of the web UI: each HTML page and its JSON twin under /api/v1.

A page handler and its twin call the same `views` function with the same
caller; the page renders the dict with a Jinja2 template. Readers are
signed requests (the CLI), a browser login cookie (login.py), or nobody.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from roar.diff import CATEGORIES
from roar.display import printable
from roar.identity.signature import is_signed
from roar.objects.base import is_id
from roar.pathjson import jsonable
from roar.server.auth import Authenticator, query_bytes
from roar.server.errors import BadRequest, Forbidden, NotFound
from roar.server.indexing import INT64
from roar.server.limits import read_body
from roar.server.scope import NOBODY, Caller
from roar.server.storage import Storage
from roar.server.storage.records import SearchFilters
from roar.server.web import login, views
from roar.server.web.registry_diff import OperandNotFound, registry_diff

API = "/api/v1"
HERE = Path(__file__).parent
SEARCH_FIELDS = ("command", "file", "file_type", "label", "owner", "gpu")
# Pages run only their own scripts and are never framed (clickjacking). Styles
# may be inline: the DAG library sets them; nothing it styles is a script.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# FastAPI's OpenAPI pages load their viewer from a CDN with an inline script.
CSP_EXEMPT = ("/docs", "/redoc")


def _templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_shown,
    )
    env.filters["ts"] = _timestamp
    env.filters["size"] = _size
    env.filters["printable"] = printable  # for recorded text the index holds as text
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


def _shown(value: Any) -> Any:
    # Recorded bytes (paths, argv, the working directory, environment variables)
    # are shown as a terminal shows them (display.printable, the one rule): a
    # newline as \n, an escape sequence as \e[31m, a byte that is not UTF-8 as
    # \xNN; autoescape then makes the text safe for HTML. Text that is not
    # recorded bytes (a patch, a message) is shown as it is.
    if isinstance(value, bytes):
        return printable(value)
    return value


def _json_script(value: Any) -> str:
    # Safe inside <script type="application/json">: no way to close the tag.
    text = json.dumps(jsonable(value), separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _json(data: Any, status: int = 200) -> Response:
    # Paths in the one JSON form (roar/pathjson.py), as the CLI writes them.
    body = json.dumps(jsonable(data), separators=(",", ":"))
    return Response(body, status_code=status, media_type="application/json")


def _date_ns(text: str | None, *, end: bool = False) -> int | None:
    """A form's YYYY-MM-DD (UTC) as ns; `end` takes the end of that day."""
    if not text:
        return None
    if text.isascii() and text.isdigit():
        if int(text) > INT64[1]:
            raise BadRequest("times are nanoseconds since the epoch, a 64-bit integer")
        return int(text)
    try:
        day = dt.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        raise BadRequest(f"dates look like 2025-01-31, not {text!r}") from None
    if end:
        day += dt.timedelta(days=1)
    return int(day.timestamp()) * 10**9 - (1 if end else 0)


def mount(app: FastAPI, storage: Storage, authenticate: Authenticator) -> None:
    templates = _templates()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[..., Awaitable[Response]]):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        if not request.url.path.startswith(CSP_EXEMPT):
            response.headers["Content-Security-Policy"] = CSP
        return response

    async def reader(request: Request) -> Caller:
        if is_signed({k.lower(): v for k, v in request.headers.items()}):
            return (await authenticate(request, required=False)).caller
        cookie = request.cookies.get(login.COOKIE)
        if cookie:
            account = await run_in_threadpool(login.account_of, storage, cookie)
            if account is not None:
                return await run_in_threadpool(storage.accounts.account_caller, account)
        return NOBODY

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
                raise NotFound(f"no {what} {digest} is registered where you can see it")
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

    @app.get(
        f"{API}/resolve/{{prefix}}",
        summary="What a hash or a prefix of 8+ hex digits names (ambiguous: the candidates)",
    )
    async def resolve_json(request: Request, prefix: str) -> Response:
        return _json(await load(views.resolve, await reader(request), prefix))

    @app.get(f"{API}/diff", summary="What differs between two lineages (roar diff), by hash")
    async def diff_json(request: Request, a: str, b: str) -> Response:
        caller = await reader(request)
        try:
            return _json(await load(registry_diff, caller, a.lower(), b.lower()))
        except OperandNotFound as e:
            raise NotFound(str(e)) from None

    @app.post(f"{API}/web-login", summary="A one-time browser login link (signed, account)")
    async def web_login(request: Request) -> dict[str, Any]:
        signed = await authenticate(
            request, required=True, body_limit=storage.limits.max_form_bytes
        )
        caller = signed.caller
        if caller.account is None:
            raise Forbidden("browser logins need an account (roar login --name)")
        token, expires = await run_in_threadpool(login.new_link, storage, caller.account)
        return {"account": caller.account, "path": f"/login/{token}", "expires_ns": expires}

    # -- pages -----------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home(request: Request, q: str = "", since: str = "", until: str = ""):  # type: ignore[no-untyped-def]
        caller = await reader(request)
        matches: list[dict[str, str]] | None = None
        message = None
        if q.strip():
            try:
                found = await load(views.resolve, caller, q)
            except BadRequest as e:
                found = {"matches": [], "message": str(e)}
            matches, message = found["matches"], found["message"]
            # the message quotes what was asked: shown as a terminal shows it
            message = printable(message) if message else message
            page_of = {"artifact": "artifacts", "job": "jobs", "session": "sessions"}
            if len(matches) == 1 and matches[0]["kind"] in page_of:
                m = matches[0]
                return RedirectResponse(f"/{page_of[m['kind']]}/{m['hash']}", status_code=303)
        filters: dict[str, Any] = {f: request.query_params.get(f) or None for f in SEARCH_FIELDS}
        filters["file"] = query_bytes(request, "file")  # a path: bytes (auth.query_bytes)
        filters["since"] = _date_ns(since)
        filters["until"] = _date_ns(until, end=True)
        results = None
        query = SearchFilters(**filters)
        if query.any():
            hits = await run_in_threadpool(storage.lookup.search, caller, query, 200)
            results = [h.to_json() for h in hits]
        twin_params = {k: v for k, v in filters.items() if v is not None}
        return page(
            request,
            caller,
            "home.html",
            q=q,
            matches=matches,
            message=message,
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
                error = printable(str(e))  # it quotes what was asked
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

    used_link = "login link (used or expired: run `roar login --web` again)"

    @app.get("/login/{token}", include_in_schema=False)
    async def login_page(request: Request, token: str) -> Response:
        account = await run_in_threadpool(login.link_account, storage, token)
        if account is None:
            return page(request, NOBODY, "not_found.html", 404, what=used_link)  # type: ignore[no-any-return]
        confirm = login.new_confirm()
        resp = page(request, NOBODY, "login.html", account=account, token=token, confirm=confirm)
        resp.set_cookie(
            login.CONFIRM_COOKIE,
            confirm,
            max_age=login.LINK_TTL_S,
            path="/login",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return resp  # type: ignore[no-any-return]

    @app.post("/login/{token}", include_in_schema=False)
    async def login_confirm(request: Request, token: str) -> Response:
        body = await read_body(request, storage.limits.max_form_bytes)
        form = parse_qs(body.data.decode("utf-8", "replace"))
        origin = request.headers.get("origin")
        same_origin = origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"
        if not same_origin or not login.confirmed(
            request.cookies.get(login.CONFIRM_COOKIE), (form.get("confirm") or [None])[0]
        ):
            raise Forbidden("confirm the sign-in from the login page itself")
        cookie = await run_in_threadpool(login.redeem, storage, token)
        if cookie is None:
            return page(request, NOBODY, "not_found.html", 404, what=used_link)  # type: ignore[no-any-return]
        resp = RedirectResponse("/", status_code=303)
        resp.delete_cookie(login.CONFIRM_COOKIE, path="/login")
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
