"""What can go wrong in the registry, and the one mapping from that to HTTP statuses.

Storage, pack checks and routes raise a `RegistryError` subclass that names
its status; `status_of` maps everything else that reaches the edge (a body
that is not the JSON a route wants, a database that is down) in this one
place, so bad input is a 4xx and an outage is a 503, never a guess.
"""

from __future__ import annotations

from typing import Any


class RegistryError(Exception):
    """A refusal with a message fit for the client; `status` is its HTTP status."""

    status = 400


class BadRequest(RegistryError):
    status = 400


class Unauthorized(RegistryError):
    """A signature missing, malformed, stale, replayed or not matching (docs/protocol.md §2)."""

    status = 401


class Forbidden(RegistryError):
    status = 403


class NotFound(RegistryError):
    status = 404


class Conflict(RegistryError):
    status = 409


class TooLarge(RegistryError):
    """A body over its route's limit, refused before more of it is read."""

    status = 413


class Unavailable(RegistryError):
    """The database cannot be reached; the client may retry."""

    status = 503


class PackRejected(BadRequest):
    """The pack, or one object in it, is not acceptable; nothing is stored."""

    def __str__(self) -> str:
        return f"pack rejected: {super().__str__()}"


class MissingReferences(PackRejected):
    """Objects in a push point at objects neither pushed nor already in the namespace."""


class RefMoved(Conflict):
    """A ref compare-and-swap lost: the ref no longer holds the expected value."""


class ScopeDenied(Forbidden):
    """The caller may not act in the scope they asked for."""


def status_of(exc: BaseException) -> tuple[int, str]:
    """(HTTP status, message) for anything a route raised."""
    if isinstance(exc, RegistryError):
        return exc.status, str(exc)
    from pydantic import ValidationError
    from sqlalchemy.exc import DataError, DBAPIError

    if isinstance(exc, ValidationError):
        return 400, f"request body is not what this route takes: {_first_error(exc.errors())}"
    if isinstance(exc, DataError):
        # The pack checks bound every stored value; this is the last line.
        return 400, "a value does not fit the registry's columns"
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return 503, "the registry's database is unavailable; try again"
    from sqlalchemy.exc import InterfaceError, OperationalError

    if isinstance(exc, (OperationalError, InterfaceError)):
        return 503, "the registry's database is unavailable; try again"
    return 500, "internal error"


def _first_error(errors: list[Any]) -> str:
    if not errors:
        return "invalid"
    e = errors[0]
    where = ".".join(str(p) for p in e.get("loc", ())) or "body"
    return f"{where}: {e.get('msg', 'invalid')}"


def install(app: Any) -> None:
    """Answer every error of `app` through `status_of`, as `{"detail": message}`."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    async def handle(_request: Any, exc: Exception) -> JSONResponse:
        status, message = status_of(exc)
        return JSONResponse({"detail": message}, status_code=status)

    async def handle_validation(_request: Any, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {"detail": f"bad request: {_first_error(list(exc.errors()))}"}, status_code=400
        )

    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    app.add_exception_handler(RequestValidationError, handle_validation)
    # Known kinds by class (answered quietly); anything else is a 500, logged.
    for kind in (RegistryError, ValidationError, SQLAlchemyError, Exception):
        app.add_exception_handler(kind, handle)
