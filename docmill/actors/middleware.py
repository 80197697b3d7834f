"""Message-lifecycle middleware: turns final failures into ledger rows."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

from ..core.errors import DocmillError

__all__ = ["FailureRecorder", "FailureSink"]

log = logging.getLogger(__name__)

#: Called with (stage, message kwargs, exception) once a message has failed for good.
FailureSink = Callable[[str, Mapping[str, Any], BaseException], None]


def describe(exception: BaseException) -> str:
    """One line about an exception, for logs."""
    if isinstance(exception, DocmillError):
        return f"{exception.kind}: {exception.reason}"
    return f"{type(exception).__name__}: {exception}"


class FailureRecorder(Middleware):
    """Records a message's final failure (permanent, or retries exhausted) in the ledger.

    Retries decides; this only writes down the outcome, so the document ends
    ``failed`` with its reason instead of vanishing into a dead-letter queue.
    """

    def __init__(self, on_failure: FailureSink) -> None:
        self.on_failure = on_failure

    def after_process_message(self, broker: dramatiq.Broker, message: Any, *, result: Any = None,
                              exception: BaseException | None = None) -> None:
        if exception is None:
            return
        where = f"{message.actor_name} {message.kwargs.get('key') or message.kwargs.get('source_id')}"
        if not message.failed:
            log.warning("%s: %s (retry %d)", where, describe(exception), message.options.get("retries", 0))
            return
        log.info("%s failed: %s", where, describe(exception))
        try:
            self.on_failure(message.actor_name, message.kwargs, exception)
        except Exception:  # the ledger itself is down: the message stays dead-lettered
            log.exception("could not record the failure of %s", where)
