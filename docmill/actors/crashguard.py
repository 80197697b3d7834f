"""Redelivery accounting: a document that keeps killing its worker is quarantined; its neighbours are not.

RabbitMQ redelivers what a dead worker held. That is what makes a SIGKILL
lose nothing, and also what lets one poison document (out of memory, a
segfault in a C library) take down every worker in turn. Each document
message is marked running in the ledger while a worker runs it; a
redelivered message still marked running was in flight in a worker that
died, and so is a suspect.

A worker process runs several messages at once (a thread each), so a death
there proves nothing about any one of them. Suspects are not charged:
they are handed on to their stage's isolation queue (``.isolated``), which a
single-threaded isolation process consumes one message at a time. Only a
death there, where the message was the sole one in flight, counts against
its document; after ``max_redeliveries`` of those the document fails as
"worker crashed" and the message goes to the dead-letter queue. So a random
kill, an OOM kill of a neighbour or a crash of another document never
quarantines a bystander, and a real poison document still ends after a
bounded number of deaths.

Messages that were only prefetched when their worker died were never marked
running, so they are redelivered without suspicion.
"""

from __future__ import annotations

import logging
from typing import Any

import dramatiq
from dramatiq.common import q_name
from dramatiq.middleware import Middleware, SkipMessage

from .. import metrics
from ..core.ledger import Ledger
from ..core.records import Stage, State
from .stages import isolation_queue

__all__ = ["CrashGuard"]

log = logging.getLogger(__name__)


class CrashGuard(Middleware):
    """Marks document messages running; isolates suspects of a death; quarantines those that die alone."""

    def __init__(self, ledger: Ledger, limit: int) -> None:
        self.ledger = ledger
        self.limit = limit

    @staticmethod
    def _tracked(message: Any) -> bool:
        return "key" in message.kwargs and "version" in message.kwargs

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        if not self._tracked(message):
            return
        key, version, stage = message.kwargs["key"], message.kwargs["version"], Stage(message.actor_name)
        queue = q_name(message.queue_name)
        alone = queue == isolation_queue(queue)  # only isolation processes consume isolation queues
        delivery = self.ledger.delivery_started(message.message_id, key, version, stage,
                                                redelivered=bool(getattr(message, "redelivered", False)),
                                                charge=alone, claim=True)  # the stage's claim: one transaction
        if not delivery.died:
            return
        metrics.crash_redelivery(stage, alone=alone)
        if not alone:
            log.warning("%s %s: its worker died while running it; running it again alone", stage, key,
                        extra={"event": "message.worker_died"})
            # Same message id and priority: its crash count follows it. Published (and confirmed) before
            # this delivery is acknowledged by the skip, so a death in between only redelivers it again.
            broker.enqueue(message.copy(queue_name=isolation_queue(queue)))
            raise SkipMessage("handed on to run alone")
        log.warning("%s %s: delivered again after its worker died while running it alone (%d of %d)", stage, key,
                    delivery.crashes, self.limit, extra={"event": "message.worker_died_alone"})
        if delivery.crashes < self.limit:
            return
        reason = (f"killed its worker {delivery.crashes} times while running alone, in stage {stage} "
                  "(out of memory, or a crash inside a library); quarantined")
        log.error("%s: %s", key, reason, extra={"event": "document.quarantined"})
        self.ledger.finish(key, version, State.FAILED, stage=stage, error_kind="worker crashed", reason=reason,
                           permanent=True)
        self.ledger.delivery_ended(message.message_id)
        message.fail()  # not processed; the worker dead-letters it

    def after_process_message(self, broker: dramatiq.Broker, message: Any, *, result: Any = None,
                              exception: BaseException | None = None) -> None:
        self._end(message)

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        self._end(message)

    def _end(self, message: Any) -> None:
        if not self._tracked(message):
            return
        try:
            self.ledger.delivery_ended(message.message_id)
        except Exception:  # the ledger is down: at worst a later redelivery is suspected once too often
            log.warning("could not record the end of message %s", message.message_id, exc_info=True)
