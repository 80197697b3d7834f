"""Redelivery accounting: a document that keeps killing its worker is quarantined, not retried forever.

RabbitMQ redelivers what a dead worker held. That is what makes a SIGKILL
lose nothing, and also what lets one poison document (out of memory, a
segfault in a C library) take down every worker in turn. Each document
message is marked running in the ledger while a worker holds it; a
redelivered message still marked running took its worker down with it. After
``max_redeliveries`` such crashes the document fails as "worker crashed" and
the message goes to the dead-letter queue.

Messages that were only prefetched when their worker died were never marked,
so they are redelivered without counting against their document.
"""

from __future__ import annotations

import logging
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

from ..core.ledger import Ledger

__all__ = ["CrashGuard"]

log = logging.getLogger(__name__)


class CrashGuard(Middleware):
    """Marks document messages running, and quarantines those that crashed ``limit`` workers."""

    def __init__(self, ledger: Ledger, limit: int) -> None:
        self.ledger = ledger
        self.limit = limit

    @staticmethod
    def _tracked(message: Any) -> bool:
        return "key" in message.kwargs and "version" in message.kwargs

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        if not self._tracked(message):
            return
        key, version = message.kwargs["key"], message.kwargs["version"]
        crashes = self.ledger.delivery_started(message.message_id, key, version, message.actor_name,
                                               redelivered=bool(getattr(message, "redelivered", False)))
        if crashes == 0:
            return
        log.warning("%s %s: delivered again after its worker died (%d of %d)", message.actor_name, key,
                    crashes, self.limit)
        if crashes < self.limit:
            return
        reason = (f"the worker processing this document died {crashes} times in stage {message.actor_name} "
                  "(out of memory, or a crash inside a library); quarantined")
        log.error("%s: %s", key, reason)
        self.ledger.finish(key, version, "failed", stage=message.actor_name, error_kind="worker crashed",
                           reason=reason, permanent=True)
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
        except Exception:  # the ledger is down: at worst a later redelivery counts one crash too many
            log.warning("could not record the end of message %s", message.message_id, exc_info=True)
