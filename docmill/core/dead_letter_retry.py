"""Retrying dead letters from the stage that failed, not from scratch.

A failed version keeps what earlier stages produced (page texts, OCR ranges
already read, staged vectors), so a retry of a store outage re-sends only the
store step, and a retry of one failed OCR range re-reads only the ranges not
read yet. Where that data is gone, the retry starts as early as it must.
"""

from __future__ import annotations

from collections.abc import Sequence

from .ledger_records import Document, Stage
from .runtime import Runtime
from .values import Task

__all__ = ["resume_tasks", "retry"]


def resume_tasks(rt: Runtime, row: Document, job_id: str) -> tuple[Stage, list[Task]]:
    """The stage a dead letter resumes at, and the messages that restart it."""
    def task(stage: Stage, **extra: object) -> Task:
        return Task.for_version(stage, job_id, row.key, row.version, row.priority, **extra)

    stage = row.stage
    if stage in (Stage.REMOVE, Stage.RELABEL):
        return stage, [task(stage)]
    if stage == Stage.OCR:
        ranges = rt.ledger.inflight.ocr_ranges_left(row.key, row.version)
        if ranges and rt.ledger.inflight.has_inflight(row.key, row.version, Stage.OCR):
            return stage, [task(Stage.OCR, first_page=r[0], pages=r) for r in ranges]
        stage = Stage.EMBED
    if stage == Stage.STORE and not rt.ledger.inflight.has_inflight(row.key, row.version, Stage.STORE):
        stage = Stage.EMBED
    if stage == Stage.EMBED and not rt.ledger.inflight.has_inflight(row.key, row.version, Stage.EMBED):
        stage = Stage.EXTRACT
    if stage not in (Stage.EMBED, Stage.STORE):
        stage = Stage.EXTRACT
    return stage, [task(stage)]


def retry(rt: Runtime, ids: Sequence[str] | None, *, owner: str | None = None) -> tuple[str | None, list[Document]]:
    """Re-run the chosen dead letters (all when ``ids`` is None) as one new job (``owner``'s); return it and
    the rows."""
    rows = rt.ledger.dead_letters.entries(ids)
    if not rows:
        return None, []
    job_id = rt.ledger.jobs.create("retry", discoveries=0, priority=max(r.priority for r in rows), owner=owner)
    retried, resumed = [], []
    for row in rows:
        stage, tasks = resume_tasks(rt, row, job_id)
        if rt.ledger.dead_letters.reopen(job_id, row, stage):
            retried.append(row)
            resumed.extend(tasks)
    rt.send_all(resumed)
    return job_id, retried
