"""Builds the Dramatiq broker, with its middleware, from settings.

Embedded mode: Dramatiq's in-process StubBroker, its queues ordered by priority
(:mod:`.priority_stub`). Distributed mode
(``DOCMILL_BROKER_URL``): RabbitMQ with publisher confirms and durable queues
declared with ``x-max-priority``, so a document's priority orders it in every
stage's queue, and consumers that never acknowledge a message on a channel
other than the one that delivered it (:mod:`.rabbitmq.acks`).
"""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, ShutdownNotifications, TimeLimit

from ..core.runtime import Runtime
from ..settings import Settings
from .middleware.crashguard import CrashGuard
from .middleware.failure_recorder import FailureRecorder
from .middleware.hold import Hold
from .middleware.log_context import LogContext
from .middleware.message_metrics import MessageMetrics
from .middleware.outages import Watch
from .middleware.retries import Retries
from .priority_stub import PriorityStubBroker

__all__ = ["MAX_PRIORITY", "build_broker", "rabbitmq_broker"]

#: Highest message priority (``docmill submit --priority 0-9``); queues are declared with it.
MAX_PRIORITY = 9


def build_broker(settings: Settings, runtime: Runtime, watch: Watch) -> dramatiq.Broker:
    """The broker for these settings, with docmill's middleware.

    FailureRecorder and MessageMetrics sit before Retries in the list because
    ``after_*`` hooks run in reverse order: they must see the message after
    Retries decided whether it failed for good. LogContext comes first, so
    every other middleware's lines about a message carry its context. Hold and
    CrashGuard, which may wait for the ledger before a message starts, come
    before TimeLimit, so that a wait is not counted against the message.
    """
    hold = Hold(watch)
    middleware = [
        LogContext(),
        hold,
        AgeLimit(),
        TimeLimit(time_limit=int(settings.stage_time_limit * 1000)),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        MessageMetrics(),
        FailureRecorder(runtime, watch),
        Retries(min_backoff=int(settings.retry_min_backoff * 1000), max_backoff=int(settings.retry_max_backoff * 1000),
                watch=watch),
    ]
    broker: dramatiq.Broker
    if settings.broker_url is None:
        broker = PriorityStubBroker(middleware=middleware)
        broker.emit_after("process_boot")  # starts TimeLimit's watchdog, as `dramatiq` would in a worker process
        return broker
    # Only RabbitMQ redelivers what a dead worker held; in one process there is nothing to count.
    middleware.insert(2, CrashGuard(runtime.ledger, settings.max_redeliveries, hold, runtime.events))
    return rabbitmq_broker(settings, middleware)


def rabbitmq_broker(settings: Settings, middleware: list[Any] | None = None) -> dramatiq.Broker:
    """The RabbitMQ broker of ``DOCMILL_BROKER_URL``: publisher confirms, priority queues. Without
    ``middleware`` it runs nothing: it declares and reads queues as the workers' would (``docmill doctor``)."""
    from .rabbitmq.acks import ChannelBoundBroker

    if settings.broker_url is None:
        raise RuntimeError("no broker is configured (DOCMILL_BROKER_URL)")
    return ChannelBoundBroker(url=settings.broker_url.get_secret_value(), confirm_delivery=True,
                              max_priority=MAX_PRIORITY, middleware=middleware or [])
