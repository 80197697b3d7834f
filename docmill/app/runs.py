"""Running jobs, and watching them, through the backend the settings choose (``app.backend``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..core.values import SourceSpec
from ..settings import Settings
from .backend import Backend, open_backend
from .progress import OUTAGE, follow, patiently
from .specs import has_ledger

if TYPE_CHECKING:  # the ledger (SQLAlchemy) is imported only where a command opens it
    from ..core.ledger import JobProgress

__all__ = ["RunInterrupted", "Watch", "purge_dead_letters", "retry_dead_letters", "run", "submit", "wait"]

#: What a front end does with a job's progress: consume the snapshots (render a bar, log, stream events).
Watch = Callable[[Iterator["JobProgress"]], Any]


def _drain(progress: Iterator[JobProgress]) -> None:
    for _ in progress:
        pass


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C once its job existed: ``detached`` when the job goes on without this process."""

    def __init__(self, job_id: str, detached: bool) -> None:
        super().__init__(job_id)
        self.job_id, self.detached = job_id, detached


def _watch(backend: Backend, job_id: str, watch: Watch | None, warn: Callable[[str], None] | None, *,
           timeout: float | None = None, outage: float = OUTAGE) -> None:
    (watch or _drain)(follow(lambda: backend.progress(job_id, warn), timeout=timeout, outage=outage,
                             sleep=backend.pause))


def run(settings: Settings, specs: Sequence[SourceSpec], *, priority: int = 0, kind: str = "ingest",
        watch: Watch | None = None, on_job: Callable[[str], None] | None = None,
        warn: Callable[[str], None] | None = None, on_wait: Callable[[], None] | None = None) -> tuple[str, Any]:
    """Discover the sources and process what changed, until every document has ended; the job and its summary.

    ``on_wait`` hears when another run holds the embedded home; ``warn`` hears about a queue nobody consumes;
    ``on_job`` gets the job id as soon as there is one; ``watch`` consumes the progress. Ctrl-C once the job
    exists raises RunInterrupted, which says whether the job goes on without this process.
    """
    backend = open_backend(settings, on_wait=on_wait, stop_on_full_disk=True)
    finished = False
    started: list[str] = []

    def job_started(job_id: str) -> None:
        started.append(job_id)
        if on_job is not None:
            on_job(job_id)

    try:
        job_id = backend.discover(specs, priority=priority, kind=kind, on_job=job_started)
        _watch(backend, job_id, watch, warn)
        summary = backend.summary(job_id)
        finished = True
        return job_id, summary
    except KeyboardInterrupt:
        if started:
            raise RunInterrupted(started[0], backend.detached) from None
        raise
    finally:
        backend.close(timeout=60 if finished else 10)  # interrupted: what is in flight resumes next time


def submit(settings: Settings, specs: Sequence[SourceSpec], *, priority: int = 0, kind: str = "ingest",
           on_job: Callable[[str], None] | None = None) -> str:
    """Discover the sources here, queue what changed for the workers, and return the job id (ConfigurationError
    where no workers can take it: embedded mode)."""
    backend = open_backend(settings, detached=True)
    try:
        return backend.discover(specs, priority=priority, kind=kind, on_job=on_job)
    finally:
        backend.close()


def wait(settings: Settings, job_id: str, *, timeout: float | None = None, watch: Watch | None = None,
         warn: Callable[[str], None] | None = None) -> Any:
    """Watch a job the workers run until it ends; its summary. KeyError for an unknown job, TimeoutError.

    All of it rides out an outage of RabbitMQ or the ledger as the workers do: for as long as ``timeout``
    allows, or ``OUTAGE`` seconds without one (then the TransientError)."""
    outage = max(OUTAGE, timeout or 0.0)
    backend = patiently(lambda: open_backend(settings, detached=True), outage=outage)
    try:
        patiently(lambda: backend.runtime.ledger.jobs.info(job_id), outage=outage)
        _watch(backend, job_id, watch, warn, timeout=timeout, outage=outage)
        return patiently(lambda: backend.summary(job_id), outage=outage)
    finally:
        backend.close()


def retry_dead_letters(settings: Settings, ids: Sequence[str] | None, *, wait: bool = True,
                       watch: Watch | None = None, warn: Callable[[str], None] | None = None
                       ) -> tuple[str | None, Any]:
    """Re-run dead letters (all when ``ids`` is None) from the stage that failed, as one job.

    The job id (None when there was nothing to retry) and its summary (None
    when not waited for; a job of this process's own runs to its end).
    """
    backend = open_backend(settings, stop_on_full_disk=True)
    try:
        job_id, _rows = backend.retry(ids)
        if job_id is None or (not wait and backend.detached):
            return job_id, None
        _watch(backend, job_id, watch, warn)
        return job_id, backend.summary(job_id)
    finally:
        backend.close()


def purge_dead_letters(settings: Settings, older_than: float | None = None) -> int:
    """Forget dead letters (only those older than ``older_than`` seconds, if given); how many."""
    from ..core.ledger import Ledger

    if not has_ledger(settings):
        return 0
    before = time.time() - older_than if older_than is not None else None
    with Ledger(settings.ledger_database_url) as ledger:
        rows = ledger.dead_letters.entries(before=before)
    backend = open_backend(settings)
    try:
        return backend.purge(rows, everything=before is None)
    finally:
        backend.close()
