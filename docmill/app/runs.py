"""Running jobs: in this process (embedded mode) or on the workers (distributed mode), and watching them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..core.errors import ConfigurationError
from ..core.values import SourceSpec
from ..settings import Settings
from .progress import OUTAGE, follow, patiently
from .specs import has_ledger

if TYPE_CHECKING:  # the ledger (SQLAlchemy) is imported only where a command opens it
    from ..core.ledger import JobProgress

__all__ = ["Watch", "purge_dead_letters", "retry_dead_letters", "run", "submit", "wait"]

#: What a front end does with a job's progress: consume the snapshots (render a bar, log, stream events).
Watch = Callable[[Iterator["JobProgress"]], Any]


def _drain(progress: Iterator[JobProgress]) -> None:
    for _ in progress:
        pass


def _client(settings: Settings) -> Any:
    if not settings.distributed:
        raise ConfigurationError("DOCMILL_BROKER_URL is not set: this needs RabbitMQ and `docmill worker` "
                                 "processes (`docmill ingest` runs everything in one process without it)")
    from ..actors.distributed import DistributedClient

    return DistributedClient(settings)


def run(settings: Settings, specs: Sequence[SourceSpec], *, priority: int = 0, kind: str = "ingest",
        watch: Watch | None = None, on_job: Callable[[str], None] | None = None,
        warn: Callable[[str], None] | None = None, on_wait: Callable[[], None] | None = None) -> tuple[str, Any]:
    """Discover the sources and process what changed, until every document has ended; the job and its summary.

    Embedded mode runs the pipeline in this process (``on_wait`` hears when
    another run holds the home); distributed mode submits to the workers and
    watches (``warn`` hears about a queue nobody consumes). ``on_job`` gets
    the job id as soon as there is one; ``watch`` consumes the progress.
    """
    if settings.distributed:
        client = _client(settings)
        try:
            job_id = client.submit(list(specs), priority=priority, kind=kind, on_job=on_job)
            (watch or _drain)(follow(lambda: client.progress(job_id, warn)))
            return job_id, client.runtime.ledger.jobs.summary(job_id)
        finally:
            client.close()
    from ..actors.embedded import EmbeddedPipeline

    pipeline = EmbeddedPipeline(settings, on_wait=on_wait, stop_on_full_disk=True)
    finished = False
    try:
        pipeline.start()
        job_id = pipeline.submit(specs, priority=priority, kind=kind)
        if on_job is not None:
            on_job(job_id)
        (watch or _drain)(follow(lambda: pipeline.progress(job_id), sleep=pipeline.settle))
        summary = pipeline.runtime.ledger.jobs.summary(job_id)
        finished = True
        return job_id, summary
    finally:
        pipeline.stop(timeout=60 if finished else 10)  # interrupted: what is in flight resumes next time


def submit(settings: Settings, specs: Sequence[SourceSpec], *, priority: int = 0, kind: str = "ingest",
           on_job: Callable[[str], None] | None = None) -> str:
    """Distributed mode: discover the sources here, queue what changed, and return the job id."""
    client = _client(settings)
    try:
        job_id: str = client.submit(list(specs), priority=priority, kind=kind, on_job=on_job)
        return job_id
    finally:
        client.close()


def wait(settings: Settings, job_id: str, *, timeout: float | None = None, watch: Watch | None = None,
         warn: Callable[[str], None] | None = None) -> Any:
    """Distributed mode: watch a job until it ends; its summary. KeyError for an unknown job, TimeoutError.

    All of it rides out an outage of RabbitMQ or the ledger as the workers do: for as long as ``timeout``
    allows, or ``OUTAGE`` seconds without one (then the TransientError)."""
    outage = max(OUTAGE, timeout or 0.0)
    client = patiently(lambda: _client(settings), outage=outage)
    try:
        patiently(lambda: client.runtime.ledger.jobs.info(job_id), outage=outage)
        (watch or _drain)(follow(lambda: client.progress(job_id, warn), timeout=timeout, outage=outage))
        return patiently(lambda: client.runtime.ledger.jobs.summary(job_id), outage=outage)
    finally:
        client.close()


def retry_dead_letters(settings: Settings, ids: Sequence[str] | None, *, wait: bool = True,
                       watch: Watch | None = None, warn: Callable[[str], None] | None = None
                       ) -> tuple[str | None, Any]:
    """Re-run dead letters (all when ``ids`` is None) from the stage that failed, as one job.

    The job id (None when there was nothing to retry) and its summary (None
    when not waited for).
    """
    if settings.distributed:
        client = _client(settings)
        try:
            job_id, _rows = client.retry(ids)
            if job_id is None or not wait:
                return job_id, None
            (watch or _drain)(follow(lambda: client.progress(job_id, warn)))
            return job_id, client.runtime.ledger.jobs.summary(job_id)
        finally:
            client.close()
    from ..actors.embedded import EmbeddedPipeline
    from ..core import dead_letter_retry

    with EmbeddedPipeline(settings, stop_on_full_disk=True) as pipeline:
        job_id, _rows = dead_letter_retry.retry(pipeline.runtime, ids)
        if job_id is None:
            return None, None
        (watch or _drain)(follow(lambda: pipeline.progress(job_id), sleep=pipeline.settle))
        return job_id, pipeline.runtime.ledger.jobs.summary(job_id)


def purge_dead_letters(settings: Settings, older_than: float | None = None) -> int:
    """Forget dead letters (only those older than ``older_than`` seconds, if given); how many."""
    from ..core.ledger import Ledger

    if not has_ledger(settings):
        return 0
    before = time.time() - older_than if older_than is not None else None
    with Ledger(settings.ledger_database_url) as ledger:
        rows = ledger.dead_letters.entries(before=before)
        if not settings.distributed:
            return ledger.dead_letters.purge(rows)
        client = _client(settings)
        try:
            purged: int = client.purge(rows, everything=before is None)
            return purged
        finally:
            client.close()
