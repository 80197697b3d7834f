"""The two modes behind one contract (``docmill.app.backend.Backend``), and the one place that picks between them.

Front ends (the command line, the HTTP API, the scheduler) and the use cases in ``docmill.app`` start, follow,
retry and report jobs through a backend and never ask which mode they run in:

* :class:`EmbeddedBackend` runs every stage in this process (Dramatiq's in-process broker and worker threads,
  ``embedded.EmbeddedPipeline``). A job lives as long as this process; ``start`` begins the work.
* :class:`DistributedBackend` is a client of RabbitMQ and the ledger (``distributed.DistributedClient``): jobs
  are queued for ``docmill worker`` processes and go on when this process ends.

:func:`open_backend` chooses by the settings (``DOCMILL_BROKER_URL``), once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..core.errors import ConfigurationError
from ..settings import Settings

if TYPE_CHECKING:
    from ..core.ledger import JobProgress
    from ..core.ledger_records import Document, JobSummary
    from ..core.runtime import Runtime
    from ..core.values import SourceSpec
    from .distributed import DistributedClient
    from .embedded import EmbeddedPipeline

__all__ = ["DeadMessages", "DistributedBackend", "EmbeddedBackend", "mode_of", "open_backend", "prepare_workers",
           "queue_report"]

log = logging.getLogger(__name__)

#: What RabbitMQ's dead-letter queues hold: how many messages a failed document stands for, how many none does
#: (superseded versions, failed discoveries), and how many the ledger still waits for (lost in an outage).
DeadMessages = tuple[int, int, int]


class EmbeddedBackend:
    """Every stage in this process. The pipeline (plugins, model, worker threads, the home's lock) is built on
    first use, so that a command needing only the ledger (``dlq purge``) builds none of it."""

    mode = "embedded"
    detached = False  # a job ends with this process (what is in flight resumes on the next run)

    def __init__(self, settings: Settings, *, on_wait: Callable[[], None] | None = None,
                 stop_on_full_disk: bool = False) -> None:
        self.settings = settings
        self._on_wait, self._stop_on_full_disk = on_wait, stop_on_full_disk
        self._pipeline: EmbeddedPipeline | None = None
        self._started = False

    @property
    def pipeline(self) -> EmbeddedPipeline:
        if self._pipeline is None:
            from .embedded import EmbeddedPipeline

            self._pipeline = EmbeddedPipeline(self.settings, on_wait=self._on_wait,
                                              stop_on_full_disk=self._stop_on_full_disk)
        return self._pipeline

    @property
    def runtime(self) -> Runtime:
        return self.pipeline.runtime

    def start(self) -> None:
        if not self._started:
            self.pipeline.start()
            self._started = True

    def submit(self, specs: Sequence[SourceSpec], *, kind: str = "ingest", priority: int = 0,
               owner: str | None = None, queued_at: int | None = None) -> str:
        return self.pipeline.submit(specs, kind=kind, priority=priority, owner=owner, queued_at=queued_at)

    def discover(self, specs: Sequence[SourceSpec], *, kind: str = "ingest", priority: int = 0,
                 on_job: Callable[[str], None] | None = None) -> str:
        """Discovery runs on this process's worker threads anyway: the job is submitted, and started."""
        self.start()
        job_id = self.submit(specs, kind=kind, priority=priority)
        if on_job is not None:
            on_job(job_id)
        return job_id

    def progress(self, job_id: str, warn: Callable[[str], None] | None = None) -> JobProgress:
        return self.pipeline.progress(job_id)

    def pause(self, seconds: float) -> None:
        """Wait between progress polls; returns as soon as the broker runs out of work."""
        self.pipeline.settle(seconds)

    def summary(self, job_id: str) -> JobSummary:
        return self.runtime.ledger.jobs.summary(job_id)

    def retry(self, ids: Sequence[str] | None, *, owner: str | None = None) -> tuple[str | None, list[Document]]:
        from ..core import dead_letter_retry

        self.start()
        return dead_letter_retry.retry(self.runtime, ids, owner=owner)

    def purge(self, rows: Sequence[Document], *, everything: bool = False) -> int:
        """Forget these dead letters: only the ledger holds them."""
        from ..core.ledger import Ledger

        if not rows:
            return 0
        if self._pipeline is not None:
            return self._pipeline.runtime.ledger.dead_letters.purge(rows)
        with Ledger(self.settings.ledger_database_url) as ledger:
            return ledger.dead_letters.purge(rows)

    def dead_messages(self) -> DeadMessages | None:
        """None: there is no broker whose queues could hold any."""
        return None

    def close(self, timeout: float = 60.0) -> None:
        """Stop the worker threads; a message in progress finishes within ``timeout`` seconds, or resumes when the
        pipeline next starts. Releases the home."""
        if self._pipeline is None:
            return
        busy = sum(queue.unfinished_tasks for queue in self._pipeline.broker.queues.values())
        if busy and self._started:
            log.info("stopping: waiting up to %.0f s for the pipeline's workers to finish the messages in progress "
                     "(%d message(s) held or queued; the rest resume on the next start)", timeout, busy,
                     extra={"event": "api.stopping"})
        self._pipeline.stop(timeout=timeout)
        self._pipeline = None


class DistributedBackend:
    """A client of RabbitMQ and the ledger; ``docmill worker`` processes do the work."""

    mode = "distributed"
    detached = True  # a job goes on in the workers when this process ends

    def __init__(self, settings: Settings) -> None:
        from .distributed import DistributedClient

        self.settings = settings
        self.client: DistributedClient = DistributedClient(settings)

    @property
    def runtime(self) -> Runtime:
        return self.client.runtime

    def start(self) -> None:
        """Nothing to start: the workers run elsewhere."""

    def submit(self, specs: Sequence[SourceSpec], *, kind: str = "ingest", priority: int = 0,
               owner: str | None = None, queued_at: int | None = None) -> str:
        return self.client.enqueue(specs, kind=kind, priority=priority, owner=owner, queued_at=queued_at)

    def discover(self, specs: Sequence[SourceSpec], *, kind: str = "ingest", priority: int = 0,
                 on_job: Callable[[str], None] | None = None) -> str:
        """Discovery here (paths named on this machine are listed on it), then what changed is queued."""
        return self.client.submit(list(specs), priority=priority, kind=kind, on_job=on_job)

    def progress(self, job_id: str, warn: Callable[[str], None] | None = None) -> JobProgress:
        return self.client.progress(job_id, warn)

    def pause(self, seconds: float) -> None:
        time.sleep(seconds)

    def summary(self, job_id: str) -> JobSummary:
        return self.runtime.ledger.jobs.summary(job_id)

    def retry(self, ids: Sequence[str] | None, *, owner: str | None = None) -> tuple[str | None, list[Document]]:
        return self.client.retry(ids, owner=owner)

    def purge(self, rows: Sequence[Document], *, everything: bool = False) -> int:
        return self.client.purge(rows, everything=everything)

    def dead_messages(self) -> DeadMessages | None:
        found, waited = self.client.dead_messages()
        versions = self.runtime.ledger.dead_letters.versions()
        matched = sum(m.version in versions for m in found)
        return matched, len(found) - matched - sum(waited), sum(waited)

    def close(self, timeout: float = 60.0) -> None:
        self.client.close()


def open_backend(settings: Settings, *, detached: bool = False, on_wait: Callable[[], None] | None = None,
                 stop_on_full_disk: bool = False) -> EmbeddedBackend | DistributedBackend:
    """The backend of these settings: distributed when ``DOCMILL_BROKER_URL`` names a broker, else embedded.

    ``detached``: the caller submits and leaves (``docmill submit``, ``wait``), which only workers can serve;
    ConfigurationError in embedded mode. ``on_wait`` hears when another process holds the embedded home;
    ``stop_on_full_disk``: an embedded command's run stops at a full disk instead of waiting for space.
    """
    if settings.distributed:
        return DistributedBackend(settings)
    if detached:
        raise ConfigurationError("DOCMILL_BROKER_URL is not set: this needs RabbitMQ and `docmill worker` "
                                 "processes (`docmill ingest` runs everything in one process without it)")
    return EmbeddedBackend(settings, on_wait=on_wait, stop_on_full_disk=stop_on_full_disk)


def mode_of(settings: Settings) -> str:
    """The mode these settings run in, as people are told it: "distributed" or "embedded"."""
    return DistributedBackend.mode if settings.distributed else EmbeddedBackend.mode


def queue_report(settings: Settings, *, patience: float = 3.0) -> tuple[set[str], list[Any]] | None:
    """The broker's queues as docmill declares them, and each stage queue's statistics (messages, consumers);
    None where there is no broker (embedded mode). ConfigurationError for a queue declared otherwise, a
    TransientError when RabbitMQ cannot be reached within ``patience`` seconds."""
    if not settings.distributed:
        return None
    from .broker import rabbitmq_broker
    from .rabbitmq import housekeeping
    from .stage_actors import queue_names

    broker = rabbitmq_broker(settings)
    queues = queue_names(isolation=True)
    try:
        housekeeping.check_queues(broker, queues, patience=patience)  # type: ignore[arg-type]
        return queues, housekeeping.queue_stats(broker, queue_names())  # type: ignore[arg-type]
    finally:
        broker.close()


def prepare_workers(settings: Settings, stages: Sequence[str]) -> Callable[[], int | None]:
    """Before ``docmill worker`` starts its processes: every queue declared and checked, the store able to take
    these stages' writers, the dead-lettered messages the ledger still waits for queued again. A function
    telling how many messages wait in these stages' isolation queues. ConfigurationError in embedded mode."""
    backend = open_backend(settings, detached=True)
    assert isinstance(backend, DistributedBackend)
    try:
        client = backend.client
        client.runtime.plugins.check_store_writers(settings, stages)
        client.requeue_strays()
        waiting: Callable[[], int | None] = client.isolated_waiting(stages)
        return waiting
    finally:
        backend.close()
