"""Retries: Dramatiq's retry middleware, with ``Retry-After`` honoured and no traceback in the message.

Dramatiq's own ``Retries`` stores a formatted traceback in the message it
re-enqueues, and a traceback can quote anything a library put in an
exception; docmill keeps one line (error kind and reason) instead, since a
message in a queue is readable by whoever can read the queue (invariant 7).
A TransientError that carries ``retry_after`` (a 429 or 503 that said when)
waits that long, never more than ``max_backoff``.

An error that comes from an outage (the ledger down, a full disk: see
``outages.py``) spends no retry: the message goes back to its queue as it
was, and the Hold middleware keeps it waiting until the service answers. A
retry RabbitMQ cannot take (it is down) is not an error of the middleware:
the delivery was not acknowledged, and RabbitMQ delivers the message again.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any

import dramatiq
from dramatiq.common import compute_backoff
from dramatiq.errors import BrokerConnectionError
from dramatiq.middleware import Middleware

from ..stage_actors import StageActor
from .failure_recorder import describe
from .outages import Watch, detail, mark_not_requeued

__all__ = ["Retries"]

log = logging.getLogger(__name__)


class Retries(Middleware):
    """Re-enqueues a failed message with backoff while ``retry_when`` allows, else fails it for good."""

    def __init__(self, *, min_backoff: int, max_backoff: int, watch: Watch | None = None) -> None:
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.watch = watch or Watch()

    @property
    def actor_options(self) -> set[str]:
        return {"retry_when", "throws", "min_backoff", "max_backoff"}

    def after_process_message(self, broker: dramatiq.Broker, message: Any, *, result: Any = None,
                              exception: BaseException | None = None) -> None:
        if exception is None:
            return
        actor = broker.get_actor(message.actor_name)
        throws = actor.options.get("throws")
        retries = message.options.setdefault("retries", 0)
        held = self.watch.holds(exception)  # an outage's, not the message's: tried again, uncharged
        if not held:
            message.options["retries"] = retries + 1
        message.options["error"] = describe(exception)[:500]
        message.options["requeue_timestamp"] = int(time.time() * 1000)
        retry_when = actor.options.get("retry_when")
        if not held and ((throws and isinstance(exception, throws)) or retry_when is None
                         or not retry_when(retries, exception)):
            message.fail()
            return
        # Back on the stage's own queue: a message re-run alone (see crashguard.py) that raised instead
        # of killing its worker is cleared of suspicion.
        try:
            broker.enqueue(message.copy(queue_name=actor.queue_name), delay=self.delay(actor, retries, exception))
        except BrokerConnectionError as exc:
            if self.watch.broker is not None:
                self.watch.broker.begin(detail(exc))
            else:
                log.warning("cannot queue a retry of message %s: %s", message.message_id, describe(exc))
            mark_not_requeued(message)

    def delay(self, actor: StageActor, retries: int, exception: BaseException) -> int:
        """Milliseconds before the next try: exponential with jitter, or what the service asked for."""
        max_backoff = int(actor.options.get("max_backoff", self.max_backoff))
        retry_after = getattr(exception, "retry_after", None)
        if retry_after is not None and retry_after >= 0:
            # A little jitter on top, so clients told the same time do not return in one burst.
            wanted = int(retry_after * 1000 * (1 + random.uniform(0, 0.1)))
            return min(max(wanted, 1), max_backoff)
        min_backoff = int(actor.options.get("min_backoff", self.min_backoff))
        _, delay = compute_backoff(retries, factor=min_backoff, max_backoff=max_backoff)
        return int(delay)
