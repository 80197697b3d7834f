"""``/v1/documents``: upload files or name items of a configured source (a job each), and remove an upload.

Nothing slow happens during a request: an upload's files are stored by their
SHA-256 and its job created, then the job id is the answer.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from .. import schemas
from ..context import CallerSession, Session, api_state
from ..errors import WRITING, BadRequest, InvalidBody, UnsupportedMediaType
from ..limits import BodyTooLarge
from ..upload_checks import BodyTail, SameName, UploadRefused, check_name, keep

__all__ = ["MAX_FILES", "router"]

#: Files one upload request may carry.
MAX_FILES = 1000

router = APIRouter(tags=["documents"])


@router.post("/v1/documents", status_code=202, response_model=schemas.Accepted, responses=WRITING,
             openapi_extra=schemas.SUBMIT_BODY)
async def submit(request: Request, session: Session) -> dict[str, Any]:
    """Upload files (multipart, each part a file) or name a configured source and items of it (JSON).

    Answers with the job id as soon as the files are stored (by their
    SHA-256) and the job exists; nothing is extracted during the request.
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        return {"job_id": await _upload(request, session)}
    if kind == "application/json":
        body = await _source_items(request)
        return {"job_id": await run_in_threadpool(session.submit_items, body.source, body.items,
                                                  priority=body.priority)}
    raise UnsupportedMediaType("send multipart/form-data (files) or application/json (a source and its items)")


async def _source_items(request: Request) -> schemas.SourceItems:
    try:
        return schemas.SourceItems.model_validate(await request.json())
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    except ValueError as exc:  # not JSON: a JSONDecodeError, or a UnicodeDecodeError (both ValueErrors)
        raise InvalidBody(f"the body is not JSON ({' '.join(str(exc).split())[:200]}): send "
                          f"{{\"source\": NAME, \"items\": [...]}}") from None


async def _upload(request: Request, session: CallerSession) -> str:
    max_size = api_state(request).max_size
    body = BodyTail(request.receive)
    try:
        form = await Request(request.scope, body.receive).form(max_files=MAX_FILES, max_fields=MAX_FILES)
    except BodyTooLarge:
        raise
    except Exception as exc:  # a malformed multipart body
        raise UploadRefused(f"the multipart body cannot be read: {' '.join(str(exc).split())[:200]}") from None
    try:
        files = [value for _, value in form.multi_items() if not isinstance(value, str)]
        if not files:
            raise UploadRefused(body.why_no_file(request.headers.get("content-type", "")))
        names = [check_name(part.filename) for part in files]
        if len(set(names)) != len(names):  # one would replace the other: say so instead
            raise SameName("two files of one request have the same name")
        priority = _priority(form.get("priority"))

        def store() -> str:  # one thread for the disk and the ledger, not one hop each
            items = [keep(session.upload_dir, file_name, part.content_type, part.file.read, max_size)
                     for part, file_name in zip(files, names, strict=True)]
            return session.upload(items, priority=priority)

        return await run_in_threadpool(store)
    finally:
        await form.close()


def _priority(value: object) -> int:
    if value is None:
        return 0
    try:
        priority = int(str(value))
    except ValueError:
        priority = -1
    if not 0 <= priority <= 9:
        raise BadRequest(f"priority must be a whole number from 0 to 9, not {value!r}")
    return priority


@router.delete("/v1/documents/{key:path}", status_code=202, response_model=schemas.Accepted, responses=WRITING)
def remove(key: str, session: Session) -> dict[str, Any]:
    """Remove one of the caller's uploaded documents from the index (its key, as a job's items show it)."""
    return {"job_id": session.remove(key)}
