"""The moment an embedded job can have ended: the broker holds nothing but the message just handled."""

from __future__ import annotations

import threading
from typing import Any

import dramatiq

__all__ = ["Settled"]


class Settled(dramatiq.Middleware):
    """Wakes whoever follows a job once the broker holds nothing but the message just handled: the moment a
    job can have ended. Added first, so its after-hooks run last, once the message's outcome is in the ledger
    and a retry of it is queued."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def _check(self, broker: dramatiq.Broker) -> None:
        if sum(queue.unfinished_tasks for queue in broker.queues.values()) <= 1:  # only this message's own
            self.event.set()

    def after_process_message(self, broker: dramatiq.Broker, message: Any, *, result: Any = None,
                              exception: BaseException | None = None) -> None:
        self._check(broker)

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        self._check(broker)
