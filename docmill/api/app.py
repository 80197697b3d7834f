"""The HTTP API's routes: thin handlers over ``docmill.app.service`` (the application layer the CLI uses too).

Every route but ``/v1/health`` and the status page needs a bearer token;
each token sees only the jobs and uploads it started, and another token's
are answered 404. Errors are JSON: ``{"error": {"status": 404, "message": ...}}``.
"""

import asyncio
import hmac
import inspect
import json
import math
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import Field, ValidationError
from starlette.exceptions import HTTPException

from .. import __version__, metrics
from ..app.reports import hit_record
from ..app.service import Service
from ..core.errors import ConfigurationError, DocmillError, TransientError, UnknownSource
from ..core.filters import parse
from ..settings import Settings
from . import schemas
from .asgi import HttpMiddleware
from .auth import RateLimiter, TokenBook
from .headers import SecurityHeaders
from .limits import BodyLimit, BodyTooLarge, too_large
from .uploads import BodyTail, UploadRefused, check_name, keep

__all__ = ["create_app"]

#: Seconds between progress events of a job's event stream, and between keep-alive comments.
EVENT_EVERY, KEEP_ALIVE = 0.5, 15.0
#: Files one upload request may carry.
MAX_FILES = 1000
#: A search's longest query and filters, in characters. The HTTP server refuses a request line over 64 KiB
#: with a plain-text 400 before docmill sees it, and a character can take 12 bytes percent-encoded: these
#: keep every valid search under that (a longer one is a JSON 422). The model reads 256 word pieces anyway.
MAX_QUERY, MAX_CONDITIONS, MAX_CONDITION = 2000, 10, 200
#: Wrong webhook secrets a client address may send a source: one a second on average, after the first five.
WEBHOOK_GUESSES = (1.0, 5)
#: The longest item key a job's page may start after (a path, at most 4,096 bytes on Linux).
MAX_KEY = 4096
PAGE = Path(__file__).with_name("page.html")

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": schemas.ErrorBody, "description": text}
    for status, text in ((400, "Bad request"), (401, "No token, or an unknown one"), (404, "Not found (or not yours)"),
                         (409, "Two files of one request share a name"), (413, "Too large"),
                         (503, "The broker or the store is unavailable; try again"),
                         (415, "Declared type differs from the content"),
                         (422, "Invalid parameters"), (429, "Over the rate limit"))}


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"status": status, "message": message}}, status_code=status, headers=headers)


class _Refused(HTTPException):
    pass


def create_app(service: Service, settings: Settings) -> FastAPI:
    """The FastAPI application for ``service``."""
    tokens = TokenBook({t.name: t.sha256 for t in settings.api_tokens})
    limiter = RateLimiter(settings.api_rate_limit, max(1, int(settings.api_rate_limit * 2)))
    guesses = RateLimiter(*WEBHOOK_GUESSES)  # wrong webhook secrets, per source and client address
    max_size = int(settings.max_file_size)
    # FastAPI's own OpenTelemetry instrumentation is off: docmill exports nothing it was not told to
    # (FASTAPI_OTEL_AUTO_CONFIGURE would add exporters), and it cost every request a span.
    off = {"telemetry": {"tracing": False, "metrics": False, "logs": False, "operation_spans": False,
                         "auto_configure": False}} if "telemetry" in inspect.signature(FastAPI).parameters else {}
    app = FastAPI(title="docmill", version=__version__, description=__doc__ or "",  # no docs page from a CDN
                  openapi_url="/v1/openapi.json", docs_url=None, redoc_url=None, **off)  # type: ignore[arg-type]
    app.add_middleware(RequestMetrics)
    app.add_middleware(BodyLimit, file_limit=max_size)  # a file at the limit, and its form around it
    app.add_middleware(SecurityHeaders)  # outermost: on every answer, a 413 from BodyLimit's too

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, _invalid(exc.errors()))

    @app.exception_handler(BodyTooLarge)
    async def body_too_large(_request: Request, _exc: BodyTooLarge) -> JSONResponse:
        # The rest of the body is not read: the server closes the connection after the answer instead of
        # draining what the client still sends (it took 2 GiB so).
        return JSONResponse(too_large(max_size), status_code=413, headers={"Connection": "close"})

    @app.exception_handler(TransientError)
    async def unavailable(_request: Request, exc: TransientError) -> JSONResponse:
        return _error(503, exc.reason, {"Retry-After": "5"})

    @app.exception_handler(UploadRefused)
    async def refused(_request: Request, exc: UploadRefused) -> JSONResponse:
        return _error(exc.status, str(exc))

    async def caller(request: Request) -> str:  # a hash and a comparison: no thread needed
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        name = tokens.caller(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
        if name is None:
            raise _Refused(401, "a valid bearer token is needed: Authorization: Bearer TOKEN",
                           headers={"WWW-Authenticate": "Bearer"})
        wait = limiter.wait(name)
        if wait:
            seconds = max(1, math.ceil(wait))  # what Retry-After can say: whole seconds, never 0
            raise _Refused(429, f"over the rate limit of {settings.api_rate_limit:g} requests a second; "
                                f"try again in {seconds} s", headers={"Retry-After": str(seconds)})
        return name

    Caller = Annotated[str, Depends(caller)]

    def owned(job_id: str, name: str) -> None:
        try:
            service.owned_job(job_id, name)
        except KeyError:
            raise _Refused(404, f"no job {job_id!r}") from None

    @app.get("/v1/health", response_model=schemas.Health, tags=["service"])
    def health() -> dict[str, Any]:
        """Whether the API is up; needs no token."""
        return {"status": "ok", "mode": service.mode, "version": __version__}

    @app.post("/v1/documents", status_code=202, response_model=schemas.Accepted, tags=["documents"],
              responses=_ERRORS, openapi_extra=schemas.SUBMIT_BODY)
    async def submit(request: Request, name: Caller) -> dict[str, Any]:
        """Upload files (multipart, each part a file) or name a configured source and items of it (JSON).

        Answers with the job id as soon as the files are stored (by their
        SHA-256) and the job exists; nothing is extracted during the request.
        """
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "multipart/form-data":
            return {"job_id": await _upload(request, name)}
        if kind == "application/json":
            try:
                body = schemas.SourceItems.model_validate(await request.json())
            except ValidationError as exc:
                raise _Refused(422, _invalid(exc.errors())) from None
            except (ValueError, UnicodeDecodeError) as exc:  # not JSON
                raise _Refused(422, f"the body is not JSON ({' '.join(str(exc).split())[:200]}): send "
                                    f"{{\"source\": NAME, \"items\": [...]}}") from None
            return {"job_id": await run_in_threadpool(_named, body, name)}
        raise _Refused(415, "send multipart/form-data (files) or application/json (a source and its items)")

    async def _upload(request: Request, name: str) -> str:
        body = BodyTail(request.receive)
        try:
            form = await Request(request.scope, body.receive).form(max_files=MAX_FILES, max_fields=MAX_FILES)
        except BodyTooLarge:
            raise
        except Exception as exc:  # a malformed multipart body
            raise _Refused(400, f"the multipart body cannot be read: {' '.join(str(exc).split())[:200]}") from None
        try:
            files = [value for _, value in form.multi_items() if not isinstance(value, str)]
            if not files:
                raise _Refused(400, body.why_no_file(request.headers.get("content-type", "")))
            names = [check_name(part.filename) for part in files]
            if len(set(names)) != len(names):  # one would replace the other: say so instead
                raise _Refused(409, "two files of one request have the same name")
            priority = _priority(form.get("priority"))

            def store() -> str:  # one thread for the disk and the ledger, not one hop each
                items = [keep(service.upload_dir, file_name, part.content_type, part.file.read, max_size)
                         for part, file_name in zip(files, names, strict=True)]
                return service.upload(name, items, priority=priority)

            return await run_in_threadpool(store)
        finally:
            await form.close()

    def _named(body: schemas.SourceItems, name: str) -> str:
        try:
            job_id = service.submit_items(body.source, body.items, owner=name, priority=body.priority)
        except UnknownSource:  # which sources there are is the operator's business, not every caller's
            raise _Refused(404, f"no source named {body.source!r}") from None
        except ConfigurationError as exc:
            raise _Refused(400, str(exc)) from None
        return job_id

    @app.get("/v1/jobs", response_model=list[schemas.JobBrief], tags=["jobs"], responses=_ERRORS)
    def jobs(name: Caller, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[dict[str, Any]]:
        """The caller's most recent jobs, newest first."""
        return service.jobs(name, limit)

    @app.get("/v1/jobs/{job_id}", response_model=schemas.JobStatus, tags=["jobs"], responses=_ERRORS)
    def job(job_id: str, name: Caller, limit: Annotated[int, Query(ge=0, le=10_000)] = 100,
            after: Annotated[str | None, Query(max_length=MAX_KEY)] = None, state: schemas.StateName | None = None,
            stage: schemas.StageName | None = None) -> dict[str, Any]:
        """Counts, and a page of the job's documents: state, stage, attempts, and why each failed or was skipped."""
        try:
            return service.job(job_id, name, limit=limit or None, after=after, state=state, stage=stage)
        except KeyError:
            raise _Refused(404, f"no job {job_id!r}") from None

    @app.get("/v1/jobs/{job_id}/events", tags=["jobs"], responses={
        **_ERRORS, 200: {"content": {"text/event-stream": {}}, "description": "Progress events"}})
    async def events(job_id: str, name: Caller) -> StreamingResponse:
        """Server-sent events: ``progress`` with the job's counts whenever they change, then ``end``."""
        await run_in_threadpool(owned, job_id, name)

        async def stream() -> AsyncIterator[str]:
            last, quiet = None, time.monotonic()
            while True:
                progress = await run_in_threadpool(service.progress, job_id)
                now = {"job_id": job_id, "counts": progress.counts, "total": progress.total,
                       "finished": progress.finished}
                if now != last:
                    last, quiet = now, time.monotonic()
                    yield f"event: progress\ndata: {json.dumps(now)}\n\n"
                elif time.monotonic() - quiet > KEEP_ALIVE:
                    quiet = time.monotonic()
                    yield ": still working\n\n"
                if progress.finished:
                    yield f"event: end\ndata: {json.dumps(now)}\n\n"
                    return
                await asyncio.sleep(EVENT_EVERY)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.post("/v1/jobs/{job_id}/retry", status_code=202, response_model=schemas.Accepted, tags=["jobs"],
              responses=_ERRORS)
    def retry(job_id: str, name: Caller) -> dict[str, Any]:
        """Run the job's failed documents again from the stage that failed; the new job (null: none failed)."""
        try:
            return {"job_id": service.retry(job_id, name)}
        except KeyError:
            raise _Refused(404, f"no job {job_id!r}") from None

    @app.delete("/v1/documents/{key:path}", status_code=202, response_model=schemas.Accepted, tags=["documents"],
                responses=_ERRORS)
    def remove(key: str, name: Caller) -> dict[str, Any]:
        """Remove one of the caller's uploaded documents from the index (its key, as a job's items show it)."""
        try:
            return {"job_id": service.remove(key, name)}
        except KeyError:
            raise _Refused(404, f"no document {key!r} of yours") from None

    @app.get("/v1/search", response_model=list[schemas.Hit], tags=["search"], responses=_ERRORS)
    def search(name: Caller, q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY)],
               k: Annotated[int, Query(ge=1, le=100)] = 5,
               where: Annotated[list[Annotated[str, Field(pattern=schemas.WHERE_PATTERN, max_length=MAX_CONDITION)]]
                                | None, Query(max_length=MAX_CONDITIONS, description=(
                                    "FIELD OP VALUE, repeatable: tags=invoice, page>=2, modified>=2024-01-01"))] = None,
               mode: Annotated[Literal["hybrid", "dense", "keyword"], Query(description=(
                   "hybrid: by meaning and words together; dense: by meaning; keyword: by words"))] = "hybrid",
               ) -> list[dict[str, Any]]:
        """The ``k`` chunks that best answer ``q`` (by meaning and by its words, as ``mode`` says) that pass every
        ``where``; never another caller's uploads, on either side of a hybrid search."""
        try:
            conditions = parse(where or [])
        except ValueError as exc:
            raise _Refused(400, str(exc)) from None
        try:
            hits = service.search(q, k, conditions, caller=name, mode=mode)
        except (ConfigurationError, DocmillError) as exc:
            raise _Refused(503 if not isinstance(exc, ConfigurationError) else 400,
                           exc.reason if isinstance(exc, DocmillError) else str(exc)) from None
        return [hit_record(h) for h in hits]

    @app.post("/v1/sources/{source}/webhook", status_code=202, response_model=schemas.SyncTriggered,
              tags=["sources"], responses=_ERRORS)
    def webhook(source: str, request: Request) -> dict[str, Any]:
        """Sync a named source now (a Paperless-ngx workflow's webhook); authenticated by the source's own
        ``webhook_secret``, sent as ``X-Docmill-Webhook-Secret``. A burst of calls is one more sync."""
        configured = next((s for s in settings.sources if s.name == source), None)
        secret = configured.webhook_secret.get_secret_value() if configured and configured.webhook_secret else None
        if secret is None:
            raise _Refused(404, f"no source {source!r} takes webhooks (set webhook_secret in its [[sources]] entry)")
        client = f"{source} {request.client.host if request.client else '?'}"
        wait = guesses.available(client)
        if wait:  # refused before the secret is compared: guessing goes no faster than WEBHOOK_GUESSES allow
            seconds = max(1, math.ceil(wait))
            raise _Refused(429, f"too many wrong webhook secrets from this address; try again in {seconds} s",
                           headers={"Retry-After": str(seconds)})
        given = request.headers.get("x-docmill-webhook-secret", "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            guesses.take(client)
            raise _Refused(401, "the webhook secret is missing or wrong (X-Docmill-Webhook-Secret)")
        started = service.sync(source)
        return {"source": source, "sync": "started" if started else "coalesced"}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))

    @app.get("/page.js", include_in_schema=False)
    def page_script() -> Response:
        return Response(PAGE.with_suffix(".js").read_bytes(), media_type="text/javascript; charset=utf-8")

    @app.get("/page.css", include_in_schema=False)
    def page_style() -> Response:
        return Response(PAGE.with_suffix(".css").read_bytes(), media_type="text/css; charset=utf-8")

    return app


class RequestMetrics(HttpMiddleware):
    """ASGI middleware: each answer's route (its template) and status, and how long it took, for the metrics."""

    async def http(self, scope: Any, receive: Any, send: Any) -> None:
        started, status = time.monotonic(), 500

        async def sent(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sent)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            metrics.api_request(route, status, time.monotonic() - started)


def _invalid(errors: Any) -> str:
    """A validation error in words: each field and what is wrong with it (pydantic's links to its own docs
    left out)."""
    where = "; ".join(f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}" for e in errors)
    return where or "invalid request"


def _priority(value: Any) -> int:
    if value is None:
        return 0
    try:
        priority = int(str(value))
    except ValueError:
        priority = -1
    if not 0 <= priority <= 9:
        raise _Refused(400, f"priority must be a whole number from 0 to 9, not {value!r}")
    return priority
