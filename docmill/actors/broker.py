"""Builds the Dramatiq broker, with its middleware, from settings."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, ShutdownNotifications, TimeLimit

from ..settings import Settings
from .middleware import FailureRecorder, FailureSink

__all__ = ["build_broker"]


def build_broker(settings: Settings, on_failure: FailureSink) -> dramatiq.Broker:
    """The broker for these settings: Dramatiq's in-process broker in embedded mode.

    FailureRecorder sits before Retries in the list because ``after_*`` hooks
    run in reverse order: it must see the message after Retries decided
    whether it failed for good.
    """
    middleware = [
        AgeLimit(),
        TimeLimit(time_limit=int(settings.stage_time_limit * 1000)),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        FailureRecorder(on_failure),
        Retries(max_retries=settings.max_retries),
    ]
    broker = StubBroker(middleware=middleware)
    broker.emit_after("process_boot")  # starts TimeLimit's watchdog, as `dramatiq` would in a worker process
    return broker
