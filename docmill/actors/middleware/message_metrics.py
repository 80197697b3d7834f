"""Counts every stage message for the Prometheus metrics (``docmill/metrics.py``): its outcome and duration.

It sits before Retries in the middleware list, because ``after_*`` hooks run
in reverse order: it must see the message after Retries decided whether it
is tried again or failed for good.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import dramatiq
from dramatiq.common import q_name
from dramatiq.middleware import Middleware

from ... import metrics
from ...core.errors import DocmillError

__all__ = ["MessageMetrics"]


class MessageMetrics(Middleware):
    """Outcome (ok, retried, failed, skipped) and seconds of each message, by queue and stage."""

    def __init__(self) -> None:
        self._started = threading.local()  # a worker thread runs one message at a time

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        self._started.at = time.monotonic()

    def after_process_message(self, broker: dramatiq.Broker, message: Any, *, result: Any = None,
                              exception: BaseException | None = None) -> None:
        started = getattr(self._started, "at", None)
        seconds = time.monotonic() - started if started is not None else None
        self._started.at = None
        stage = message.actor_name
        if message.failed:  # for good: retries exhausted, a permanent error, or quarantined before it ran
            outcome = "failed"
            metrics.dead_letter(stage)
        elif exception is None:
            outcome = "ok"
        else:
            outcome = "retried"
            metrics.retry(stage, exception.kind if isinstance(exception, DocmillError) else "internal error")
        metrics.message(q_name(message.queue_name), outcome, stage, seconds)

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        self._started.at = None
        metrics.message(q_name(message.queue_name), "skipped", message.actor_name, None)
