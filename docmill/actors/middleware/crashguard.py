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

The mark is the ledger's, so while the ledger is down a message cannot be
marked, and does not start: the guard waits for the ledger (through Hold's
watch, before the message's time limit starts) rather than run it unguarded.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import dramatiq
from dramatiq.common import q_name
from dramatiq.errors import BrokerConnectionError
from dramatiq.middleware import Middleware, SkipMessage

from ... import metrics
from ...core.errors import DiskFull, LedgerUnavailable
from ...core.events import SILENT, Events
from ...core.ledger import Ledger
from ...core.ledger_records import Stage, State
from ..stage_actors import isolation_queue
from .hold import Hold
from .outages import Watch, detail

__all__ = ["CrashGuard"]

log = logging.getLogger(__name__)


class CrashGuard(Middleware):
    """Marks document messages running; isolates suspects of a death; quarantines those that die alone."""

    def __init__(self, ledger: Ledger, limit: int, hold: Hold | None = None, events: Events = SILENT) -> None:
        self.ledger, self.events = ledger, events
        self.limit = limit
        self.hold = hold or Hold(Watch())
        self._marked = threading.local()  # the message this thread marked running (a thread runs one at a time)

    @staticmethod
    def _tracked(message: Any) -> bool:
        return "key" in message.kwargs and "version" in message.kwargs

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        if not self._tracked(message):
            return
        key, version, stage = message.kwargs["key"], message.kwargs["version"], Stage(message.actor_name)
        queue = q_name(message.queue_name)
        alone = queue == isolation_queue(queue)  # only isolation processes consume isolation queues
        try:
            delivery = self.hold.ride_out(broker, message, lambda: self.ledger.deliveries.started(
                message.message_id, key, version, stage, redelivered=bool(getattr(message, "redelivered", False)),
                charge=alone, claim=True))  # the stage's claim: one transaction
        except LedgerUnavailable as exc:  # busy, not down (that was ridden out): run it unguarded this once
            log.warning("%s %s: cannot mark it running (%s); running it without crash accounting", stage, key,
                        exc.reason)
            return
        self._marked.id = message.message_id
        if not delivery.died:
            return
        metrics.crash_redelivery(stage, alone=alone)
        if not alone:
            # Same message id and priority: its crash count follows it. Published (and confirmed) before
            # this delivery is acknowledged by the skip, so a death in between only redelivers it again.
            try:
                broker.enqueue(message.copy(queue_name=isolation_queue(queue)))
            except BrokerConnectionError as exc:  # RabbitMQ is down (it may be why this came back): run it here
                if self.hold.watch.broker is not None:
                    self.hold.watch.broker.begin(detail(exc))
                return
            log.warning("%s %s: its worker died while running it; running it again alone", stage, key,
                        extra={"event": "message.worker_died"})
            raise SkipMessage("handed on to run alone")
        log.warning("%s %s: delivered again after its worker died while running it alone (%d of %d)", stage, key,
                    delivery.crashes, self.limit, extra={"event": "message.worker_died_alone"})
        if delivery.crashes < self.limit:
            return
        reason = (f"killed its worker {delivery.crashes} times while running alone, in stage {stage} "
                  "(out of memory, or a crash inside a library); quarantined")
        log.error("%s: %s", key, reason, extra={"event": "document.quarantined"})
        if self.hold.ride_out(broker, message, lambda: self.ledger.documents.finish(
                key, version, State.FAILED, stage=stage, error_kind="worker crashed", reason=reason, permanent=True)):
            self.events.document_finished(State.FAILED, "worker crashed")
        message.fail()  # not processed; the worker dead-letters it

    def after_process_message(self, broker: dramatiq.Broker, message: Any, *, result: Any = None,
                              exception: BaseException | None = None) -> None:
        self._end(message)

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        self._end(message)

    def _end(self, message: Any) -> None:
        if getattr(self._marked, "id", None) != message.message_id:
            return  # not marked (not a document's, or the ledger never took the mark)
        self._marked.id = None
        try:
            self.ledger.deliveries.ended(message.message_id)
        except (LedgerUnavailable, DiskFull) as exc:  # at worst a later redelivery is suspected once too often
            log.debug("could not record the end of message %s: %s", message.message_id, exc.reason)
