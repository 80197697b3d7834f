"""How the HTTP API answers an error: one table from exception types to statuses, and the handler that reads it.

Every error is answered in JSON, ``{"error": {"status": 404, "message": "no job 'x'"}}``. The status is
chosen by the exception's type, never by its message. The row of the exception's nearest class wins (its
MRO, as Starlette looks up handlers), so an ``UnknownSource`` is a 404 though it is a
``ConfigurationError`` (400), and a ``DiskFull`` a 507 though it is a ``DocmillError`` (503). An exception
no row names is a bug: a 500, which the server logs.

The refusals the HTTP layer makes by itself (no token, a body of the wrong
kind) are types of their own here; the upload's are in ``upload_checks``,
the application's in ``docmill.app.service`` and ``docmill.core``.
docs/api.md ("Errors") lists the same rows, and tests/test_architecture.py
checks that it does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ..app.service import NotFound
from ..core.errors import ConfigurationError, DiskFull, DocmillError, TransientError, UnknownSource
from ..core.filters import FilterError
from . import schemas
from .limits import BodyTooLarge
from .upload_checks import FileOverLimit, SameName, TypeContradicted, UploadRefused

__all__ = ["ANSWERS", "RESPONSES", "WRITING", "Answer", "BadRequest", "InvalidBody", "OverRateLimit", "Refusal",
           "Unauthenticated", "UnsupportedMediaType", "answer", "install", "invalid"]

log = logging.getLogger(__name__)


class Refusal(Exception):
    """A request the HTTP layer refuses by itself; ``headers`` go with the answer."""

    def __init__(self, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.headers = dict(headers or {})


class BadRequest(Refusal):
    """A parameter out of its range that the schema cannot say (an upload form's priority)."""


class Unauthenticated(Refusal):
    """No bearer token, one no hash matches, or a wrong webhook secret."""


class UnsupportedMediaType(Refusal):
    """A body that is neither of the kinds a route takes."""


class InvalidBody(Refusal):
    """A body that is not what its declared type says (not JSON)."""


class OverRateLimit(Refusal):
    """Over a rate limit; ``Retry-After`` says how many whole seconds to wait."""

    def __init__(self, message: str, seconds: int) -> None:
        super().__init__(message, {"Retry-After": str(seconds)})


def invalid(errors: Sequence[Mapping[str, object]]) -> str:
    """A validation error in words: each field and what is wrong with it (pydantic's links to its own docs
    left out)."""
    where = "; ".join(f"{'.'.join(str(p) for p in _location(e) if p != 'body') or 'body'}: {e['msg']}"
                      for e in errors)
    return where or "invalid request"


def _location(error: Mapping[str, object]) -> Sequence[object]:
    loc = error.get("loc", ())
    return loc if isinstance(loc, tuple | list) else ()


def _said(exc: Exception) -> str:
    return str(exc)


def _reason(exc: Exception) -> str:
    return exc.reason if isinstance(exc, DocmillError) else str(exc)


def _detail(exc: Exception) -> str:
    return str(exc.detail) if isinstance(exc, HTTPException) else str(exc)


def _fields(exc: Exception) -> str:
    return invalid(exc.errors()) if isinstance(exc, RequestValidationError) else str(exc)


def _source(exc: Exception) -> str:
    # Which sources there are is the operator's business, not every caller's: the settings' message lists them.
    return f"no source named {exc.name!r}" if isinstance(exc, UnknownSource) else str(exc)


def _disk_full(_exc: Exception) -> str:
    # Where the disk is mounted is the operator's business: the log says it.
    return ("the server's disk is full: this request was not carried out; send it again once space has been "
            "freed")


@dataclass(frozen=True)
class Answer:
    """How the API answers one type of exception: ``status`` (None: the exception's own ``status_code``), the
    message it says, headers of its own (the exception's ``headers`` are added), and whether the operator's
    log hears of it."""

    status: int | None
    message: Callable[[Exception], str] = _said
    headers: Mapping[str, str] = field(default_factory=dict)
    logged: bool = False


#: The one table: each exception type the API answers, and how (docs/api.md says what each means to a caller).
ANSWERS: dict[type[Exception], Answer] = {
    HTTPException: Answer(None, _detail),  # Starlette's own: 404 for a path no route has, 405 for a method
    BadRequest: Answer(400),
    UploadRefused: Answer(400),
    FilterError: Answer(400),
    ConfigurationError: Answer(400),
    Unauthenticated: Answer(401),
    NotFound: Answer(404),
    UnknownSource: Answer(404, _source),
    SameName: Answer(409),
    BodyTooLarge: Answer(413, headers={"Connection": "close"}),  # the rest of the body is not read
    FileOverLimit: Answer(413),
    TypeContradicted: Answer(415),
    UnsupportedMediaType: Answer(415),
    RequestValidationError: Answer(422, _fields),
    InvalidBody: Answer(422),
    OverRateLimit: Answer(429),
    TransientError: Answer(503, _reason, {"Retry-After": "5"}),
    DocmillError: Answer(503, _reason),
    DiskFull: Answer(507, _disk_full, logged=True),
}

#: The error answers the OpenAPI schema documents on every authenticated route.
RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": schemas.ErrorBody, "description": text}
    for status, text in ((400, "Bad request"), (401, "No token, or an unknown one"), (404, "Not found (or not yours)"),
                         (409, "Two files of one request share a name"), (413, "Too large"),
                         (503, "The broker or the store is unavailable; try again"),
                         (415, "Declared type differs from the content"),
                         (422, "Invalid parameters"), (429, "Over the rate limit"))}
#: What a route that writes (a job, an upload's bytes) documents besides.
WRITING: dict[int | str, dict[str, object]] = {
    **RESPONSES, 507: {"model": schemas.ErrorBody, "description": "The server's disk is full; send it again later"}}


def answer(exc: Exception) -> tuple[int, str, dict[str, str]]:
    """The status, message and headers that answer ``exc`` (LookupError when no row names its type)."""
    row = next((ANSWERS[cls] for cls in type(exc).__mro__ if cls in ANSWERS), None)
    if row is None:
        raise LookupError(f"no answer for {type(exc).__name__}")
    status = row.status if row.status is not None else getattr(exc, "status_code", 500)
    own = getattr(exc, "headers", None) or {}
    if row.logged:
        log.warning("answered %d: %s", status, _reason(exc), extra={"event": "api.error"})
    return status, row.message(exc), {**row.headers, **own}


async def _answer(_request: Request, exc: Exception) -> JSONResponse:
    status, message, headers = answer(exc)
    return JSONResponse({"error": {"status": status, "message": message}}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Answer every exception type of the table as the table says."""
    for exc_type in ANSWERS:
        app.add_exception_handler(exc_type, _answer)
