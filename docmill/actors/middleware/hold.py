"""Holds every message while a service the worker needs is down (see ``outages.py`` for why).

Second in the middleware list, right after LogContext and ahead of the time
limit: a thread waiting here for the ledger has not started its message, so
the wait, however long, is not counted against the message's time limit.
The message stays with this worker, unacknowledged, until the ledger answers.

When the worker is told to stop meanwhile, the messages waiting here go back
to their queues (published again, then acknowledged): a drain never waits on
an outage. In an embedded run stopped by a full disk, they are dropped: the
next run starts their documents again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import dramatiq
from dramatiq.middleware import Middleware, SkipMessage

from ...core.errors import DiskFull
from .outages import Stopping, Watch

__all__ = ["Hold", "hand_back"]

log = logging.getLogger(__name__)

T = TypeVar("T")


def hand_back(broker: dramatiq.Broker, message: Any, why: str) -> None:
    """Return a message this worker will not run now to its queue: published again (confirmed), then skipped,
    which acknowledges the delivery. Should publishing fail, the message is dead-lettered instead, where the
    ledger still waits for it, and it is queued again when the service returns (see ``strays.py``)."""
    try:
        broker.enqueue(message.copy(queue_name=message.queue_name))
    except Exception as exc:
        log.warning("cannot hand message %s back to %s (%s): dead-lettering it until it can be queued again",
                    message.message_id, message.queue_name, exc)
        message.fail()
        return
    raise SkipMessage(why)


class Hold(Middleware):
    """Waits, before each message, until the services the watch looks after answer."""

    def __init__(self, watch: Watch) -> None:
        self.watch = watch

    def ride_out(self, broker: dramatiq.Broker, message: Any, work: Callable[[], T]) -> T:
        """``work()`` (a ledger call before the message runs), waiting out an outage it meets; hands the message
        back (SkipMessage) when the worker stops meanwhile."""
        try:
            return self.watch.call(work)
        except Stopping:
            hand_back(broker, message, "handed back: the worker is stopping while the ledger is down")
            raise SkipMessage("not run") from None

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        try:
            self.watch.wait()
        except Stopping:
            hand_back(broker, message, "handed back: the worker is stopping while the ledger is down")
        except DiskFull:
            raise SkipMessage("dropped: the run stopped, its disk is full") from None
        if self.watch.broker is not None and self.watch.broker.down:
            self.watch.broker.end()  # a message arrived: RabbitMQ is back

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self.watch.stop()
