"""Retrying dead letters from the stage that failed, not from scratch.

A failed version keeps what earlier stages produced (page texts, OCR ranges
already read, staged vectors), so a retry of a store outage re-sends only the
store step, and a retry of one failed OCR range re-reads only the ranges not
read yet. Where that data is gone, the retry starts as early as it must.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .models import Task
from .runtime import Runtime

__all__ = ["resume_tasks", "retry"]


def resume_tasks(rt: Runtime, row: Any, job_id: str) -> tuple[str, list[Task]]:
    """The stage a dead letter resumes at, and the messages that restart it."""
    args = {"job_id": job_id, "key": row.key, "version": row.version}
    stage = row.stage
    if stage in ("remove", "relabel"):
        return stage, [Task(stage, args, row.priority)]
    if stage == "ocr":
        ranges = rt.ledger.ocr_ranges_left(row.key, row.version)
        if ranges and rt.ledger.has_inflight(row.key, row.version, "ocr"):
            return stage, [Task("ocr", {**args, "first_page": r[0], "pages": r}, row.priority) for r in ranges]
        stage = "embed"
    if stage == "store" and not rt.ledger.has_inflight(row.key, row.version, "store"):
        stage = "embed"
    if stage == "embed" and not rt.ledger.has_inflight(row.key, row.version, "embed"):
        stage = "extract"
    if stage not in ("embed", "store"):
        stage = "extract"
    return stage, [Task(stage, args, row.priority)]


def retry(rt: Runtime, ids: Sequence[str] | None) -> tuple[str | None, list[Any]]:
    """Re-run the chosen dead letters (all when ``ids`` is None) as one new job; return it and the rows."""
    rows = rt.ledger.dead_letters(ids)
    if not rows:
        return None, []
    job_id = rt.ledger.create_job("retry", discoveries=0, priority=max(r.priority for r in rows))
    retried = []
    for row in rows:
        stage, tasks = resume_tasks(rt, row, job_id)
        if rt.ledger.reopen(job_id, row, stage):
            retried.append(row)
            for task in tasks:
                rt.send(task)
    return job_id, retried
