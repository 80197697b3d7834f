"""Embedded mode: the real actors on Dramatiq's in-process broker, with worker threads in this process.

Three pools, like the specialised workers of a distributed set-up: one
thread per core embeds (the embedder's model runs take a core each, so two
documents' chunks embed at once), one thread per core runs OCR (Tesseract is
single-threaded), and a few threads discover, extract and store. An
exclusive lock on ``DOCMILL_HOME`` keeps a second embedded run from writing
the same ledger and Chroma store at once; it waits its turn instead.

A full disk stops a command's run at once (``stop_on_full_disk``, see
``outages.EmbeddedWatch``): the next progress poll raises its DiskFull, and
the documents in flight stay pending, to be started again by the next run
once there is space. A long-running process (the API) holds its work until
there is space again instead, as distributed workers do.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Sequence
from typing import IO, Any

import dramatiq

from ..core import document_steps
from ..core.ledger import JobProgress
from ..core.ledger_records import Stage, State
from ..core.values import SourceSpec
from ..settings import Settings
from .middleware.log_context import LogContext
from .middleware.outages import EmbeddedWatch
from .middleware.settled import Settled
from .stage_actors import QUEUES
from .wiring import wire
from .work_order import order_by_priority

__all__ = ["EmbeddedPipeline"]

log = logging.getLogger(__name__)

#: Milliseconds a worker thread waits for a message before checking whether it should stop.
POLL_MS = 20
#: Seconds the broker may sit idle with a job unfinished before its stragglers are declared lost.
LOST_AFTER = 5.0


class EmbeddedPipeline:
    """Runs jobs to completion inside this process."""

    def __init__(self, settings: Settings, *, on_wait: Any = None, stop_on_full_disk: bool = False) -> None:
        self.settings = settings
        settings.home.mkdir(parents=True, exist_ok=True)
        self._lock_file = self._lock_home(settings, on_wait)
        # This process owns the ledger (it holds the home) and runs every stage.
        self.pipeline = wire(settings, recover_pending=True, warm_up=True, stop_on_full_disk=stop_on_full_disk)
        self.runtime, self.broker = self.pipeline.runtime, self.pipeline.broker
        self.watch = self.pipeline.watch
        self._settled = Settled()
        self.broker.add_middleware(self._settled, before=LogContext)
        self.workers: list[dramatiq.Worker] = []
        self._idle_since: dict[str, float] = {}  # job -> when the broker was first seen idle with it unfinished

    @staticmethod
    def _lock_home(settings: Settings, on_wait: Any) -> IO[str]:
        handle = open(settings.home / "embedded.lock", "a+")  # noqa: SIM115 - held for the pipeline's life
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        return handle

    def start(self) -> None:
        """Start the worker pools (discovery starts what processing needs once it finds work)."""
        cores = self.settings.cpu_count
        pools = (
            ({QUEUES[Stage.EMBED]}, cores),
            ({QUEUES[Stage.OCR]}, self.settings.ocr_workers or cores),
            ({QUEUES[Stage.DISCOVER], QUEUES[Stage.EXTRACT], QUEUES[Stage.STORE]}, self.settings.workers or 2),
        )
        for queues, threads in pools:
            worker = order_by_priority(dramatiq.Worker(self.broker, queues=queues, worker_threads=threads,
                                                       worker_timeout=POLL_MS))
            worker.start()
            self.workers.append(worker)

    def submit(self, sources: Sequence[SourceSpec], *, kind: str = "ingest", priority: int = 0,
               owner: str | None = None, queued_at: int | None = None) -> str:
        """Register the sources and start one job discovering them all (``owner``'s job, its discovery queued at
        ``queued_at``, default ``priority``); return its id."""
        job_id = self.runtime.ledger.jobs.create(kind, discoveries=len(sources), priority=priority, owner=owner,
                                                sources=[(spec.id, spec.type, spec.options) for spec in sources])
        for spec in sources:
            self.runtime.send(spec.discover_task(job_id, priority, queued_at=queued_at))
        return job_id

    def idle(self) -> bool:
        """True when no message is queued, delayed or being processed."""
        return all(queue.unfinished_tasks == 0 for queue in self.broker.queues.values())

    def settle(self, seconds: float) -> None:
        """Wait ``seconds``, or less if the broker runs out of work meanwhile (``follow``'s sleep)."""
        if self._settled.event.wait(seconds):
            self._settled.event.clear()

    def progress(self, job_id: str) -> JobProgress:
        """The job's progress; stragglers of a job the broker forgot are failed, not waited on forever.
        DiskFull once a full disk has stopped the run."""
        if isinstance(self.watch, EmbeddedWatch) and self.watch.halted is not None:
            raise self.watch.halted
        progress = self.runtime.ledger.jobs.progress(job_id)
        if progress.finished or not self.idle():
            self._idle_since.pop(job_id, None)
            return progress
        since = self._idle_since.setdefault(job_id, time.monotonic())
        if time.monotonic() - since > LOST_AFTER:
            self._fail_lost(job_id, progress)
            progress = self.runtime.ledger.jobs.progress(job_id)
        return progress

    def _fail_lost(self, job_id: str, progress: JobProgress) -> None:
        for key, version in self.runtime.ledger.jobs.pending_items(job_id):
            doc = self.runtime.ledger.documents.document(key)
            stage = doc.stage if doc is not None else Stage.DISCOVER
            log.error("%s was left without an outcome at %s; marking it failed", key, stage)
            document_steps.finish(self.runtime, key, version, State.FAILED, stage=stage, error_kind="internal error",
                                       reason="processing stopped without an outcome (a docmill bug)")
        if not progress.discovered:
            self.runtime.ledger.jobs.end_discovery(job_id, error="discovery stopped without an outcome")

    def stop(self, timeout: float = 60.0) -> None:
        """Stop the workers (finishing what they hold) and release the home directory."""
        stoppers = [threading.Thread(target=worker.stop, kwargs={"timeout": int(timeout * 1000)})
                    for worker in self.workers]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
        self.workers.clear()
        self.runtime.close()
        self._lock_file.close()

    def __enter__(self) -> EmbeddedPipeline:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
