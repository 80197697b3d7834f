"""Message-lifecycle middleware: turns final failures into ledger rows."""

from __future__ import annotations

import logging
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

from ..core import stages
from ..core.errors import DocmillError
from ..core.records import Stage
from ..core.runtime import Runtime

__all__ = ["FailureRecorder", "describe"]

log = logging.getLogger(__name__)


def describe(exception: BaseException) -> str:
    """One line about an exception, for logs and for the message's own record."""
    if isinstance(exception, DocmillError):
        return f"{exception.kind}: {exception.reason}"
    return f"{type(exception).__name__}: {' '.join(str(exception).split())}"


class FailureRecorder(Middleware):
    """Records a message's final failure (permanent, or retries exhausted) in the ledger.

    Retries decides; this only writes down the outcome, so the document ends
    ``failed`` with its reason, as a dead letter ``docmill dlq`` can retry.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def after_process_message(self, broker: dramatiq.Broker, message: Any, *, result: Any = None,
                              exception: BaseException | None = None) -> None:
        if exception is None:
            return
        where = f"{message.actor_name} {message.kwargs.get('key') or message.kwargs.get('source_id')}"
        if not message.failed:
            log.warning("%s: %s (retry %d)", where, describe(exception), message.options.get("retries", 0),
                        extra={"event": "message.retry"})
            return
        log.info("%s failed: %s", where, describe(exception), extra={"event": "document.failed"})
        try:
            stages.record_failure(self.runtime, Stage(message.actor_name), message.kwargs, exception)
        except Exception:  # the ledger itself is down: the message stays dead-lettered
            log.exception("could not record the failure of %s", where)
