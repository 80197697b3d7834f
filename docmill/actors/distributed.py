"""Distributed mode's client side: submit work to RabbitMQ and watch it in the shared ledger.

``submit`` registers the sources, creates the job and discovers the given
paths right here (so ``docmill submit`` works whatever stages the workers
run); the documents it finds go to the ``extract`` queue at the job's
priority, a discovery batch in one round trip (:mod:`.batches`), after
queueing again any dead-lettered message the ledger still waits for
(:mod:`.strays`). Watching a job reads the ledger, and asks RabbitMQ whether
any worker consumes the queues that hold messages, so a job nobody can
process is reported within seconds instead of waiting forever.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from ..core import dead_letter_retry, document_steps
from ..core.errors import TransientError
from ..core.ledger import JobProgress
from ..core.ledger_records import Stage
from ..core.values import SourceSpec
from ..settings import Settings
from .rabbitmq import housekeeping as rabbitmq
from .rabbitmq import strays
from .rabbitmq.batches import BatchPublisher
from .stage_actors import QUEUES, isolation_queue, queue_names, sender
from .wiring import wire

__all__ = ["DistributedClient"]

log = logging.getLogger(__name__)

#: Seconds a queue may hold messages with no consumer before the watcher says so.
NO_CONSUMER_AFTER = 3.0
#: Seconds between consumer checks.
CHECK_EVERY = 1.0


class DistributedClient:
    """Submits jobs to RabbitMQ and reports on them; runs no stage work except discovery of submitted paths."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pipeline = wire(settings, check=False)
        self.runtime, self.broker = self.pipeline.runtime, self.pipeline.broker
        self.queues = queue_names()
        # Dead letters are read from every queue's .XQ, the isolation queues' too (a quarantined message).
        self.all_queues = queue_names(isolation=True)
        rabbitmq.check_queues(self.broker, self.all_queues)  # type: ignore[arg-type]
        self.publisher = BatchPublisher(self.broker, self.pipeline.actors)
        self.runtime.connect(sender(self.pipeline.actors), self.publisher.send_all)
        self._unconsumed_since: dict[str, float] = {}
        self._warned: set[str] = set()
        self._checked_at = 0.0

    def submit(self, specs: Sequence[SourceSpec], *, priority: int = 0, on_job: Any = None,
               kind: str = "ingest", owner: str | None = None) -> str:
        """Create a job for these sources (``owner``'s), discover them, and enqueue what changed; its id.

        Dead-lettered messages whose documents are still pending go back to their queues first: those
        documents are listed as pending and unchanged, and this job waits for them too."""
        self.requeue_strays()
        for spec in specs:
            self.runtime.ledger.sources.put(spec.id, spec.type, spec.options)
        job_id = self.runtime.ledger.jobs.create(kind, discoveries=len(specs), priority=priority, owner=owner)
        if on_job is not None:
            on_job(job_id)
        for spec in specs:
            try:
                document_steps.discover(self.runtime, **spec.discover_task(job_id, priority).args)
            except Exception as exc:
                document_steps.record_failure(self.runtime, Stage.DISCOVER, {"job_id": job_id, "source_id": spec.id},
                                              exc)
        return job_id

    def enqueue(self, specs: Sequence[SourceSpec], *, priority: int = 0, kind: str = "ingest",
                owner: str | None = None, queued_at: int | None = None) -> str:
        """Create a job for these sources and queue their discovery for the workers (the ``discover`` queue, at
        ``queued_at``, default ``priority``); its id. What a request of the HTTP API does: nothing is listed
        here, so the answer comes at once."""
        job_id: str = self.runtime.ledger.jobs.create(
            kind, discoveries=len(specs), priority=priority, owner=owner,
            sources=[(spec.id, spec.type, spec.options) for spec in specs])
        try:
            self.runtime.send_all([spec.discover_task(job_id, priority, queued_at=queued_at) for spec in specs])
        except TransientError as exc:  # the job ends at once, with the reason, instead of waiting forever
            for spec in specs:
                self.runtime.ledger.jobs.end_discovery(job_id, error=f"{spec.id}: {exc.reason}")
            raise
        return job_id

    def retry(self, ids: Sequence[str] | None, owner: str | None = None) -> tuple[str | None, list[Any]]:
        """Retry dead letters from their failed stage (as ``owner``'s job); their old messages leave the
        dead-letter queues."""
        job_id, rows = dead_letter_retry.retry(self.runtime, ids, owner=owner)
        if rows:
            rabbitmq.drop_dead_messages(self.broker, self.all_queues,  # type: ignore[arg-type]
                                        rabbitmq.of_versions({(r.key, r.version) for r in rows}))
        return job_id, rows

    def purge(self, rows: Sequence[Any], *, everything: bool = False) -> int:
        """Forget these dead letters, in the ledger and in the dead-letter queues.

        With ``everything``, the dead-letter queues are emptied too of messages
        no failed document stands for (superseded by a newer version, or failed
        discoveries). Never of a message the ledger still waits for (its document
        pending): that one is the only copy, and is queued again (``strays.py``).
        """
        choose = strays.leftovers(self.runtime.ledger) if everything else \
            rabbitmq.of_versions({(r.key, r.version) for r in rows})
        rabbitmq.drop_dead_messages(self.broker, self.all_queues, choose)  # type: ignore[arg-type]
        return self.runtime.ledger.dead_letters.purge(rows)

    def dead_messages(self) -> tuple[list[rabbitmq.DeadMessage], list[bool]]:
        """What the dead-letter queues hold, and for each message whether the ledger still waits for it."""
        found = rabbitmq.dead_messages(self.broker, self.all_queues)  # type: ignore[arg-type]
        return found, strays.waited_for(self.runtime.ledger, found)

    def requeue_strays(self) -> int:
        """Queue again the dead-lettered messages the ledger still waits for; how many."""
        return strays.requeue_strays(self.broker, self.runtime.ledger, self.all_queues)

    def progress(self, job_id: str, warn: Any = None) -> JobProgress:
        """The job's progress; ``warn`` hears once about each queue with messages and no consumer."""
        progress = self.runtime.ledger.jobs.progress(job_id)
        now = time.monotonic()
        if warn is not None and not progress.finished and now - self._checked_at >= CHECK_EVERY:
            self._checked_at = now
            self._check_consumers(now, warn)
        return progress

    def _check_consumers(self, now: float, warn: Any) -> None:
        try:
            stats = rabbitmq.queue_stats(self.broker, self.queues)  # type: ignore[arg-type]
        except Exception as exc:  # RabbitMQ restarting: the workers will reconnect, and so will we
            log.info("cannot read queue statistics: %s", exc)
            return
        for stat in stats:
            if stat.messages == 0 or stat.consumers > 0:
                self._unconsumed_since.pop(stat.name, None)
                continue
            since = self._unconsumed_since.setdefault(stat.name, now)
            if now - since >= NO_CONSUMER_AFTER and stat.name not in self._warned:
                self._warned.add(stat.name)
                stage = next(s for s, q in QUEUES.items() if stat.name.startswith(q))
                warn(f"{stat.messages} message(s) wait in {stat.name} and no worker consumes it: start one with "
                     f"`docmill worker --queues {stage}` (DOCMILL_BROKER_URL pointing at the same RabbitMQ)")

    def isolated_waiting(self, stages: Sequence[str]) -> Any:
        """A function telling how many messages wait in these stages' isolation queues (None: cannot say)."""
        queues = {isolation_queue(q) for q in queue_names(stages)}
        url = self.settings.broker_url

        def waiting() -> int | None:
            from dramatiq.brokers.rabbitmq import RabbitmqBroker

            assert url is not None
            probe = RabbitmqBroker(url=url.get_secret_value(), middleware=[])
            try:
                return sum(stat.messages for stat in rabbitmq.queue_stats(probe, queues))
            except Exception as exc:
                log.info("cannot read the isolation queues: %s", exc)
                return None
            finally:
                probe.close()

        return waiting

    def close(self) -> None:
        self.publisher.close()
        self.pipeline.close()
