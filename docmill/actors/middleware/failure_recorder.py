"""Message-lifecycle middleware: turns final failures into ledger rows."""

from __future__ import annotations

import logging
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

from ...core import document_steps
from ...core.errors import DiskFull, DocmillError, LedgerUnavailable
from ...core.ledger_records import Stage
from ...core.runtime import Runtime
from .outages import Watch, not_requeued

__all__ = ["FailureRecorder", "describe"]

log = logging.getLogger(__name__)

#: Milliseconds before a message whose failure the ledger could not take is tried again (Hold keeps it
#: waiting while the ledger stays down).
UNRECORDED_DELAY = 1000


def describe(exception: BaseException) -> str:
    """One line about an exception, for logs and for the message's own record."""
    if isinstance(exception, DocmillError):
        return f"{exception.kind}: {exception.reason}"
    return f"{type(exception).__name__}: {' '.join(str(exception).split())}"


class FailureRecorder(Middleware):
    """Records a message's final failure (permanent, or retries exhausted) in the ledger.

    Retries decides; this only writes down the outcome, so the document ends
    ``failed`` with its reason, as a dead letter ``docmill dlq`` can retry.
    A failure the ledger cannot take (it is down, or its disk is full) is not
    dead-lettered, where the ledger would never hear of it and its document
    would wait for ever: the message goes back to its queue with the retries
    it spent, waits out the outage, and fails (or succeeds) again then.
    """

    def __init__(self, runtime: Runtime, watch: Watch | None = None) -> None:
        self.runtime = runtime
        self.watch = watch or Watch()

    def after_process_message(self, broker: dramatiq.Broker, message: Any, *, result: Any = None,
                              exception: BaseException | None = None) -> None:
        if exception is None:
            return
        where = f"{message.actor_name} {message.kwargs.get('key') or message.kwargs.get('source_id')}"
        if not message.failed:
            # During an outage its warning says it all, once: these lines are for -vv.
            level = logging.DEBUG if self.watch.quiet(exception) or not_requeued(message) else logging.WARNING
            then = "runs again when RabbitMQ delivers it again" if not_requeued(message) else \
                f"retry {message.options.get('retries', 0)}"
            log.log(level, "%s: %s (%s)", where, describe(exception), then, extra={"event": "message.retry"})
            return
        log.info("%s failed: %s", where, describe(exception), extra={"event": "document.failed"})
        try:
            document_steps.record_failure(self.runtime, Stage(message.actor_name), message.kwargs, exception)
        except (LedgerUnavailable, DiskFull) as exc:
            self._unrecorded(broker, message, where, exc)
        except Exception:  # a bug: the message stays dead-lettered, and its document pending
            log.exception("could not record the failure of %s", where)

    def _unrecorded(self, broker: dramatiq.Broker, message: Any, where: str, error: DocmillError) -> None:
        self.watch.holds(error)
        try:
            actor = broker.get_actor(message.actor_name)
            broker.enqueue(message.copy(queue_name=actor.queue_name), delay=UNRECORDED_DELAY)
        except Exception as exc:  # RabbitMQ down too: dead-lettered, and queued again once both are back
            log.warning("%s: cannot record its failure (%s) nor queue it again (%s); it waits in the dead-letter "
                        "queue until the ledger answers", where, error.reason, describe(exc))
            return
        message.failed = False  # acknowledged: its copy is queued
        level = logging.DEBUG if self.watch.quiet(error) else logging.WARNING
        log.log(level, "%s: cannot record its failure (%s); it runs again once the ledger answers", where,
                error.reason, extra={"event": "message.unrecorded"})
