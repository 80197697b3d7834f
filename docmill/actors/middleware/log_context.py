"""Tells the log lines of a stage message which job, document and stage they are about (JSON logs show it).

First in the middleware list: its ``before`` hook runs before every other's
and its ``after`` hooks after every other's, so the lines the other
middleware writes about a message (a retry, a failure, a crash) carry it too.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

from ...logs import log_context

__all__ = ["LogContext"]


class LogContext(Middleware):
    """Sets ``job``, ``doc`` (the document's key, or the source a discovery lists) and ``stage`` per message."""

    def __init__(self) -> None:
        self._open = threading.local()  # a worker thread runs one message at a time

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        kwargs = message.kwargs
        context: AbstractContextManager[None] = log_context(
            job=kwargs.get("job_id"), doc=kwargs.get("key") or kwargs.get("source_id"), stage=message.actor_name)
        context.__enter__()
        self._open.context = context

    def _close(self) -> None:
        context = getattr(self._open, "context", None)
        if context is not None:
            self._open.context = None
            context.__exit__(None, None, None)

    def after_process_message(self, broker: dramatiq.Broker, message: Any, *, result: Any = None,
                              exception: BaseException | None = None) -> None:
        self._close()

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        self._close()
