"""``/v1/jobs``: the caller's jobs, one job's counts and documents page by page, its progress as events, and
running its failed documents again."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from .. import schemas
from ..context import CallerSession, Session
from ..errors import RESPONSES, WRITING

__all__ = ["EVENT_EVERY", "KEEP_ALIVE", "MAX_KEY", "router"]

#: Seconds between progress events of a job's event stream, and between keep-alive comments.
EVENT_EVERY, KEEP_ALIVE = 0.5, 15.0
#: The longest item key a job's page may start after (a path, at most 4,096 bytes on Linux).
MAX_KEY = 4096

router = APIRouter(tags=["jobs"])


@router.get("/v1/jobs", response_model=list[schemas.JobBrief], responses=RESPONSES)
def jobs(session: Session, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[dict[str, Any]]:
    """The caller's most recent jobs, newest first."""
    return session.jobs(limit)


@router.get("/v1/jobs/{job_id}", response_model=schemas.JobStatus, responses=RESPONSES)
def job(job_id: str, session: Session, limit: Annotated[int, Query(ge=0, le=10_000)] = 100,
        after: Annotated[str | None, Query(max_length=MAX_KEY)] = None, state: schemas.StateName | None = None,
        stage: schemas.StageName | None = None) -> dict[str, Any]:
    """Counts, and a page of the job's documents: state, stage, attempts, and why each failed or was skipped."""
    return session.job(job_id, limit=limit or None, after=after, state=state, stage=stage)


@router.get("/v1/jobs/{job_id}/events", responses={
    **RESPONSES, 200: {"content": {"text/event-stream": {}}, "description": "Progress events"}})
async def events(job_id: str, session: Session) -> StreamingResponse:
    """Server-sent events: ``progress`` with the job's counts whenever they change, then ``end``."""
    await run_in_threadpool(session.follow, job_id)  # another caller's job: 404 before the stream starts
    return StreamingResponse(_progress_events(session, job_id), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _progress_events(session: CallerSession, job_id: str) -> AsyncIterator[str]:
    last, quiet = None, time.monotonic()
    while True:
        progress = await run_in_threadpool(session.progress, job_id)
        now = {"job_id": job_id, "counts": progress.counts, "total": progress.total, "finished": progress.finished}
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


@router.post("/v1/jobs/{job_id}/retry", status_code=202, response_model=schemas.Accepted, responses=WRITING)
def retry(job_id: str, session: Session) -> dict[str, Any]:
    """Run the job's failed documents again from the stage that failed; the new job (null: none failed)."""
    return {"job_id": session.retry(job_id)}
